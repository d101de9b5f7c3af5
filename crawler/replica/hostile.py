"""Hostile pages beside the normal ones: what a crawler reading the open network must survive.

``hostile_site(count)`` renders ``count`` normal generated posts plus one post page per HOSTILE_CASE,
all listed on the home page (and, for the posts with odd titles, everywhere a normal post is). Each
case states its expected outcome: ``archived`` (safely: the values stored as text, no file outside
``_posts/``) or ``rejected`` (a ``rejects`` row whose reason contains ``reason``). The home page also
links a post and a category on a subdomain of the site (OFF_SITE_LINKS), which are never requested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from crawler.postfile import SHANGHAI, format_post_file, parse_post_file
from crawler.replica.generate import generate_site
from crawler.replica.render import HTML, SITE_HOST, Page, PageKey, render_site
from crawler.settings import DOWNLOAD_TIMEOUT

HUGE_PAGE_BYTES = 50 * 1024 * 1024
# Past the crawler's default download timeout, so that the page is a timeout with default settings too
# (a test sets a short DOWNLOAD_TIMEOUT; the server's stop does not wait for its hanging daemon threads).
HANG_SECONDS = DOWNLOAD_TIMEOUT + 5.0
# Only the site and share hosts are followed: not even a subdomain of the site.
SUBDOMAIN_HOST = f"sub.{SITE_HOST}"
_PUBLISHED = datetime(2021, 12, 27, 9, 0, 0, tzinfo=SHANGHAI)
_BODY = '<p>本报讯：这是一篇用来检验爬虫稳健性的文章。</p>\n <p class="em_media">（文章来源：今晚报）</p>'
_META_CHARSET = re.compile(rb'<meta charset="UTF-8">\n?')


@dataclass(frozen=True)
class HostileCase:
    name: str  # the post's name (its URL's last segment, before .html)
    what: str
    # "archived", "rejected", or "pending": no verdict on the page (a 5xx, no answer in time), so the post
    # stays in the frontier and the run exits 1
    expect: str
    reason: str = ""  # for rejects: a fragment of the recorded reason


def _code(number: int) -> str:
    return f"NW2021122709990{number:05d}"


# Posts whose content is hostile but well-formed: archived, their values kept as text.
TITLE_CASES = {
    _code(1): '<script>alert("x")</script> 标题里的脚本',
    _code(2): '---\n!!python/object/apply:os.system ["rm -rf /"]\n# a: b "引号" \'单引号\' {x}: [y]',
    _code(3): "标题\x00里的\x07控制字符",
}
# Pages whose bytes or HTTP answer are hostile, keyed by case.
CASES = (
    HostileCase(_code(1), "markup inside the title", "archived"),
    HostileCase(_code(2), "YAML syntax, newlines and quotes in the title", "archived"),
    HostileCase(_code(3), "NUL and control characters in the title", "archived"),
    HostileCase(_code(11), "GBK, declared in the Content-Type header", "archived"),
    HostileCase(_code(12), "GB18030, declared only by <meta charset>", "archived"),
    HostileCase(_code(13), "GBK bytes, no charset declared anywhere", "rejected", "undeclared encoding"),
    HostileCase(_code(14), "declared UTF-8 but not valid UTF-8", "rejected", "undecodable bytes"),
    HostileCase(_code(15), "truncated HTML", "rejected", "no post layout"),
    HostileCase(_code(16), "an empty 200 answer", "rejected", "empty response"),
    HostileCase(_code(17), "a PNG image where a post should be", "rejected", "not an HTML page"),
    HostileCase(_code(18), "a 50 MB page", "rejected", "download max size"),
    HostileCase(_code(19), "a redirect to itself", "rejected", "redirect"),
    HostileCase(_code(20), "a redirect off the site", "rejected", "offsite"),
    HostileCase(_code(21), "404", "rejected", "http 404"),
    HostileCase(_code(22), "500", "pending", "http 500"),
    HostileCase(_code(23), f"an answer only after {HANG_SECONDS:.0f} s, past the default download timeout",
                "pending", "took longer than"),
    HostileCase("..%2F..%2F..%2Fetc%2Fpasswd", "a name that climbs out of the folder", "rejected", "post name"),
    HostileCase("..%2F..%2Fetc%2Fshadow", "another name that climbs out of the folder", "rejected", "post name"),
    HostileCase("%2Fetc%2Fhostname", "a name that is an absolute path", "rejected", "post name"),
    HostileCase("NW" + "9" * 998, "a 1,000-character name", "rejected", "post name"),
    HostileCase(_code(26), "a category of '..' in the back link", "rejected", "unusable category"),
    HostileCase(_code(27), "a redirect to a subdomain of the site", "rejected", "offsite"),
    HostileCase(_code(28), "a back link to its category on a subdomain of the site", "archived"),
)


def _post_text(code: str, title: str = "稳健性检验") -> str:
    return format_post_file(
        title=title, published_at=_PUBLISHED, category="jinwanbao", tags=["今晚报新闻"], body=_BODY,
        link=f"http://finews.zning.xyz/html_News/NewsShare.html?infoCode={code}",
    )


def _post_path(name: str) -> str:
    return f"/jinwanbao/{_PUBLISHED:%Y/%m/%d}/{name}.html"


# Listed on the home page, never requested: a post and a category page on a subdomain of the site.
OFF_SITE_LINKS = (
    f"http://{SUBDOMAIN_HOST}{_post_path(_code(29))}",
    f"http://{SUBDOMAIN_HOST}/category/jinwanbao.html",
)


def _byte_pages(templates: dict[str, bytes]) -> dict[str, Page]:
    """The answers of the byte- and HTTP-level cases, each made from its own post's rendered page."""

    def text(code: int) -> str:
        return templates[_code(code)].decode("utf-8")

    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    spare = templates[_code(10)]
    return {
        _code(11): Page(200, "text/html; charset=gbk", _META_CHARSET.sub(b"", text(11).encode("gbk"))),
        _code(12): Page(200, "text/html", text(12).replace('<meta charset="UTF-8">', '<meta charset="gb18030">')
                        .encode("gb18030")),
        _code(13): Page(200, "text/html", _META_CHARSET.sub(b"", text(13).encode("gbk"))),
        _code(14): Page(200, HTML, templates[_code(14)].replace("检验".encode(), b"\xff\xfe\xfd", 1)),
        _code(15): Page(200, HTML, templates[_code(15)][: len(templates[_code(15)]) * 2 // 3]),
        _code(16): Page(200, HTML, b""),
        _code(17): Page(200, "image/png", png),
        _code(18): Page(200, HTML, b"<p>" + b"x" * HUGE_PAGE_BYTES + b"</p>"),
        _code(19): Page(302, HTML, b"", headers=(("Location", f"http://{SITE_HOST}{_post_path(_code(19))}"),)),
        _code(20): Page(302, HTML, b"", headers=(("Location", "http://elsewhere.example/stolen.html"),)),
        _code(21): Page(404, HTML, b"<h1>404</h1>"),
        _code(22): Page(500, HTML, b"<h1>500</h1>"),
        _code(23): Page(200, HTML, templates[_code(23)], delay=HANG_SECONDS),
        "..%2F..%2F..%2Fetc%2Fpasswd": Page(200, HTML, spare),
        "..%2F..%2Fetc%2Fshadow": Page(200, HTML, spare),
        "%2Fetc%2Fhostname": Page(200, HTML, spare),
        "NW" + "9" * 998: Page(200, HTML, spare),
        _code(26): Page(200, HTML, templates[_code(26)].replace(b"/category/jinwanbao.html",
                                                                 b"/category/..%2F..%2Fetc.html")),
        _code(27): Page(302, HTML, b"", headers=(("Location", f"http://{SUBDOMAIN_HOST}{_post_path(_code(27))}"),)),
        _code(28): Page(200, HTML, templates[_code(28)].replace(f"//{SITE_HOST}/category/".encode(),
                                                                 f"//{SUBDOMAIN_HOST}/category/".encode())),
    }


def hostile_site(count: int, seed: int = 0) -> tuple[dict[PageKey, Page], tuple[HostileCase, ...]]:
    """The replica of ``count`` generated posts plus every hostile case, and the cases' expected outcomes."""
    site = generate_site(count, seed)
    titled = [(f"2021-12-27-{code}.md", _post_text(code, title)) for code, title in TITLE_CASES.items()]
    pages = render_site(parse_post_file(name, text) for name, text in [*site.files, *titled])
    # The byte-level cases start from real post pages of their own (with their own share texts),
    # rendered apart so that no listing links them except the home page's hostile list below.
    codes = [_code(number) for number in range(10, 29)]
    apart = render_site(parse_post_file(f"2021-12-27-{code}.md", _post_text(code)) for code in codes)
    pages.update({key: page for key, page in apart.items() if key[0] != SITE_HOST})
    links = []
    templates = {code: apart[(SITE_HOST, _post_path(code))].body for code in codes}
    for name, page in _byte_pages(templates).items():
        # The server looks pages up by decoded path, as a crawler's percent-escapes arrive decoded.
        pages[(SITE_HOST, _post_path(name).replace("%2F", "/"))] = page
        links.append(f'<li><a href="{_post_path(name)}">{name[:40]}</a></li>')
    links.extend(f'<li><a href="{url}">{url}</a></li>' for url in OFF_SITE_LINKS)
    home = pages[(SITE_HOST, "/")]
    listed = home.body.replace(b"</section>", ("<ul>\n" + "\n".join(links) + "\n</ul>\n</section>").encode(), 1)
    pages[(SITE_HOST, "/")] = pages[(SITE_HOST, "/index.html")] = Page(home.status, home.content_type, listed)
    return pages, CASES
