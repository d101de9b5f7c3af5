"""The replica: generator promises, kramdown imitation, rendering against real Jekyll output, server."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from crawler.pages.kramdown import to_html
from crawler.postfile import EMNEWS_CATEGORY, PostFile, parse_post_file, read_post_file, split_front_matter
from crawler.replica.generate import MIN_COUNT, SyntheticSite, generate_site, write_site
from crawler.replica.render import SHARE_HOST, SITE_HOST, Page, render_site, share_text
from crawler.replica.server import ReplicaServer, load_posts, resolve

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
RENDERED = CORPUS / "rendered"
JEKYLL_SITE = SHARED / "jekyll-site"
POST_URL = re.compile(r"^/[^?]+/\d{4}/\d{2}/\d{2}/[^/]+\.html$")
SECTION = re.compile(r"<section>.*?</section>", re.S)
SPACE = re.compile(r"\s+")
DIGITS = re.compile(r"(\d{18})$")
UPDATED = re.compile(r"<updated>[^<]*</updated>")


def need_shared() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"{SHARED} (the shared corpus and layouts) is not present")


def parsed(site: SyntheticSite) -> list[PostFile]:
    return [parse_post_file(name, text) for name, text in site.files]


def section(html: str) -> str:
    match = SECTION.search(html)
    assert match, "no <section> in the page"
    return SPACE.sub(" ", match[0])


# ---------------------------------------------------------------------------------------------
# The generator


def test_generator_is_deterministic() -> None:
    first, again = generate_site(40, seed=3), generate_site(40, seed=3)
    assert [(n, t.encode()) for n, t in first.files] == [(n, t.encode()) for n, t in again.files]
    assert first == again
    assert generate_site(40, seed=4).files != first.files


def test_generator_refuses_too_few_posts() -> None:
    with pytest.raises(ValueError):
        generate_site(MIN_COUNT - 1)


@pytest.mark.parametrize("count", [MIN_COUNT, 12, 150])
def test_generator_keeps_its_promises(count: int) -> None:
    site = generate_site(count, seed=7)
    posts = parsed(site)
    names = [name for name, _ in site.files]
    assert len(names) == count and len(set(names)) == count

    by_name = {post.file_name: post for post in posts}
    texts = dict(site.files)
    malformed = [by_name[name] for name in site.malformed]
    assert [p.title for p in malformed].count("") == 1
    assert sum(p.date is None for p in malformed) == 1
    assert any("\ndate:  +0800\n" in texts[name] for name in site.malformed)

    valid = [p for p in posts if p.file_name not in site.malformed]
    assert all(p.title and p.date is not None for p in valid)
    assert all(re.search(r"\ndate: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0800\n", texts[p.file_name]) for p in valid)
    codes = {"NW" + DIGITS.search(p.name)[1] for p in valid}  # type: ignore[index]
    assert site.valid_info_codes == codes
    malformed_codes = {"NW" + DIGITS.search(p.name)[1] for p in malformed}  # type: ignore[index]
    assert not malformed_codes & codes

    twin_digits = site.twin_info_code.removeprefix("NW")
    twins = [p for p in posts if DIGITS.search(p.name) and DIGITS.search(p.name)[1] == twin_digits]  # type: ignore[index]
    assert sorted(p.name for p in twins) == [twin_digits, "NW" + twin_digits]
    emnews_twin, outlet_twin = sorted(twins, key=lambda p: p.categories != EMNEWS_CATEGORY)
    assert emnews_twin.categories == EMNEWS_CATEGORY and outlet_twin.categories != EMNEWS_CATEGORY
    assert emnews_twin.date == outlet_twin.date and emnews_twin.title == outlet_twin.title
    assert share_text(emnews_twin) == share_text(outlet_twin)
    assert emnews_twin.body.startswith("> ")

    slugs = {p.categories for p in posts}
    assert {"emnews", "jinwanbao", "shanghaizhengquanbao", "zhengquanshibao", "diyicaijing", "LME"} <= slugs
    bodies = "\n".join(p.body for p in posts)
    assert "http://choicewzp1.eastmoney.com/html_News/NewsShare.html?infoCode=NW" in bodies
    assert "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW" in bodies
    assert re.search(r"<http://finance\.eastmoney\.com/a/\d{18}\.html>", bodies)
    assert re.search(r"<http://\w+\.eastmoney\.com/news/\d+,\d{18}\.html>", bodies)
    assert '<p class="em_media">（文章来源：上海<span id="bk_90.BK0473">' in bodies
    assert "(津云新闻编辑" in bodies
    assert "\n <p>" in bodies
    # What README's search examples look for: headlined, and in the text of valid articles.
    telling = [p for p in valid if "存款准备金" in p.body and "央行" in p.body and "降准" in p.body]
    assert telling and any("降准" in p.title for p in telling)

    for post in posts:
        text = texts[post.file_name]
        assert text.startswith("---\nlayout: post\ntitle: ") and not text.endswith("\n")
        digits = DIGITS.search(post.name)[1]  # type: ignore[index]
        assert post.file_name.startswith(f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}-")
        if post.categories == EMNEWS_CATEGORY:
            assert post.name == digits and post.tags == ["东财滚动新闻"]
            assert re.match(r"> .+\n\n", post.body)
            assert post.body.endswith("[返回东财滚动新闻](//finews.withounder.com/emnews/)｜[返回首页](//finews.withounder.com/)")
        else:
            assert post.name == "NW" + digits
            assert post.body.endswith(
                f"[返回{post.tags[0]}](//finews.withounder.com/category/{post.categories}.html)｜[返回首页](//finews.withounder.com/)"
            )
    dates = sorted(p.date for p in posts if p.date is not None)
    assert (dates[-1] - dates[0]).days <= 3


def test_written_site_reads_back(tmp_path: Path) -> None:
    site = generate_site(20, seed=1)
    write_site(tmp_path / "posts", site)
    posts, unreadable = load_posts(tmp_path / "posts")
    assert unreadable == []
    assert [(p.file_name, p.body) for p in posts] == [(p.file_name, p.body) for p in parsed(site)]
    assert (tmp_path / "posts" / site.files[0][0]).read_bytes() == site.files[0][1].encode()


def test_load_posts_skips_what_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "2021-12-27-good.md").write_text('---\nlayout: post\ntitle: "好"\ndate: 2021-12-27 10:00:00 +0800\ncategories: x\ntags: y\n---\nbody')
    (tmp_path / "2021-12-27-quotes.md").write_text('---\nlayout: post\ntitle: "a "b" c"\ndate: 2021-12-27\n---\nbody')
    (tmp_path / "2021-12-27-bare.md").write_text("no front matter")
    (tmp_path / "2021-12-27-bytes.md").write_bytes(b"---\ntitle: \xff\n---\n")
    (tmp_path / "notes.txt").write_text("not a post")
    posts, unreadable = load_posts(tmp_path)
    assert [p.file_name for p in posts] == ["2021-12-27-good.md"]
    reasons = dict(unreadable)
    assert sorted(reasons) == ["2021-12-27-bare.md", "2021-12-27-bytes.md", "2021-12-27-quotes.md"]
    assert "YAML" in reasons["2021-12-27-quotes.md"] and "front matter" in reasons["2021-12-27-bare.md"]


# ---------------------------------------------------------------------------------------------
# kramdown, against outputs taken from kramdown 2.4 as Jekyll 4.3 configures it


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            ('<p>a</p>\n <p>b &lt;c&gt; x&y<br>z</p><p class="m">（来源：上海<span id="s"><a href="http://q/?a=1&b=2" '
             'class=\'k\'>证券</a></span><span id="q"></span>报）</p>\n\n<http://a.b/c?d=1&e=2>\n\n[返回](//x/c/y.html)｜[首页](//x/)'),
            ('<p>a</p>\n<p>b &lt;c&gt; x&amp;y<br />z</p>\n<p class="m">（来源：上海<span id="s"><a href="http://q/?a=1&amp;b=2" '
             'class="k">证券</a></span><span id="q"></span>报）</p>\n\n<p><a href="http://a.b/c?d=1&amp;e=2">'
             'http://a.b/c?d=1&amp;e=2</a></p>\n\n<p><a href="//x/c/y.html">返回</a>｜<a href="//x/">首页</a></p>\n'),
        ),
        ("> 摘要\n\n正文<1%", "<blockquote>\n  <p>摘要</p>\n</blockquote>\n\n<p>正文&lt;1%</p>\n"),
        ("[返回](../emnews/)\n[首页](../)\n", '<p><a href="../emnews/">返回</a>\n<a href="../">首页</a></p>\n'),
        (
            '<p style="x"><br /></p><!-- S --><center><img src="i.jpg?a&b" width="5"></center><p id="">t</p>',
            '<p style="x"><br /></p>\n<!-- S -->\n<center><img src="i.jpg?a&amp;b" width="5" /></center>\n<p>t</p>\n',
        ),
        ('中"引号" 5 -- 6... &copy; &foo; *强调* a_b_c\n', "<p>中”引号” 5 – 6… © &amp;foo; <em>强调</em> a_b_c</p>\n"),
        ("<>\n\n---\n", "<p>&lt;&gt;</p>\n\n<hr />\n"),
    ],
    ids=["seed-shape", "digest", "two-line-back-links", "stock-image-block", "span-syntax", "empty-link-and-rule"],
)
def test_kramdown_imitation(source: str, expected: str) -> None:
    assert to_html(source) == expected


# ---------------------------------------------------------------------------------------------
# Rendering the real corpus, against what real Jekyll rendered from it


@pytest.fixture(scope="module")
def corpus_pages() -> dict[tuple[str, str], Page]:
    need_shared()
    posts = [read_post_file(path) for path in sorted((CORPUS / "posts").glob("*.md"))]
    titles = {}
    for page in (CORPUS / "category").glob("*.html"):
        meta = yaml.safe_load(split_front_matter(page.read_text(encoding="utf-8"))[0])
        titles[str(meta["category"])] = str(meta["title"])
    return render_site(posts, category_titles=titles)


def rendered_site_pages() -> Iterator[tuple[str, Path]]:
    root = RENDERED / "site"
    for path in sorted(root.rglob("*")):
        if path.is_file():
            url = "/" + path.relative_to(root).as_posix()
            yield (url.removesuffix("index.html") if url.endswith("/index.html") else url), path


def test_corpus_post_sections_match_jekyll(corpus_pages: dict[tuple[str, str], Page]) -> None:
    compared = [(url, path) for url, path in rendered_site_pages() if POST_URL.match(url)]
    assert len(compared) >= 100
    different = [
        url
        for url, path in compared
        if section(corpus_pages[(SITE_HOST, url)].body.decode()) != section(path.read_text(encoding="utf-8"))
    ]
    assert different == []


def test_corpus_pages_match_jekyll_byte_for_byte(corpus_pages: dict[tuple[str, str], Page]) -> None:
    compared = different = 0
    for url, path in rendered_site_pages():
        key = (SITE_HOST, url)
        if key not in corpus_pages:
            # Hand-written category pages of outlets with no post in the corpus: the replica only
            # knows categories from posts, so it has no page for them.
            assert url.startswith("/category/"), url
            continue
        real, mine = path.read_text(encoding="utf-8"), corpus_pages[key].body.decode()
        if url == "/feed.xml":  # real: build time; replica: newest post's date
            real, mine = UPDATED.sub("", real, count=1), UPDATED.sub("", mine, count=1)
        compared += 1
        different += real != mine
    assert compared >= 105 and different == 0


def test_corpus_share_host_matches(corpus_pages: dict[tuple[str, str], Page]) -> None:
    answers = sorted((RENDERED / "share" / "newsdata").glob("*.json"))
    assert answers
    for path in answers:
        page = corpus_pages[(SHARE_HOST, f"/NewsData/GetNewsText.do?id={path.stem}")]
        assert page.body == path.read_bytes(), path.name
        assert json.loads(page.body)["infoCode"] == path.stem
    for path in (RENDERED / "share" / "html_News").glob("*.html"):
        assert corpus_pages[(SHARE_HOST, f"/html_News/NewsShare.html?infoCode={path.stem}")].body == path.read_bytes()


def test_generated_site_matches_real_jekyll(tmp_path: Path) -> None:
    """Build a generated site with real Jekyll (when installed) and compare every page."""
    need_shared()
    jekyll = shutil.which("jekyll")
    if jekyll is None:
        pytest.skip("jekyll is not installed")
    site = generate_site(30, seed=5)
    posts = parsed(site)
    # A front-matter date Jekyll cannot parse stops its build: that post stays out of this one.
    buildable = [p for p in posts if p.date is not None]
    source = tmp_path / "site"
    shutil.copytree(JEKYLL_SITE, source)
    for path in [source, *source.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)  # ../shared may be read-only; Jekyll writes a cache
    (source / "_posts").mkdir()
    (source / "category").mkdir()
    texts = dict(site.files)
    titles = {}
    for post in sorted(buildable, key=lambda p: p.date):  # type: ignore[arg-type, return-value]
        (source / "_posts" / post.file_name).write_bytes(texts[post.file_name].encode())
        titles[post.categories] = " ".join(post.tags)
    for category, title in titles.items():
        (source / "category" / f"{category}.html").write_text(
            f"---\nlayout: category\ntitle: {title}\ncategory: {category}\n---\n", encoding="utf-8"
        )
    subprocess.run([jekyll, "build", "-q", "-s", str(source), "-d", str(tmp_path / "out")], check=True, timeout=120)
    pages = render_site(buildable)
    built = [path for path in sorted((tmp_path / "out").rglob("*")) if path.is_file()]
    assert len(built) == len(buildable) + len(titles) + 3  # home, /emnews/, feed
    for path in built:
        url = "/" + path.relative_to(tmp_path / "out").as_posix()
        url = url.removesuffix("index.html") if url.endswith("/index.html") else url
        real, mine = path.read_text(encoding="utf-8"), pages[(SITE_HOST, url)].body.decode()
        if url == "/feed.xml":
            real, mine = UPDATED.sub("", real, count=1), UPDATED.sub("", mine, count=1)
        assert mine == real, url


# ---------------------------------------------------------------------------------------------
# The server, reached as an HTTP proxy


@pytest.fixture(scope="module")
def replica() -> Iterator[tuple[SyntheticSite, ReplicaServer, urllib.request.OpenerDirector]]:
    site = generate_site(40, seed=11)
    extra = parse_post_file(
        "2021-12-26-NW202112262219000001.md",
        '---\nlayout: post\ntitle: "券商观点"\ndate: 2021-12-26 09:00:00 +0800\n'
        "categories: anxinguojizhengquan(xianggang)\ntags: 安信国际证券(香港)新闻\n---\n<p>正文</p>",
    )
    pages = render_site([*parsed(site), extra])
    with ReplicaServer(pages) as server:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": server.proxy_url}))
        yield site, server, opener


def fetch(opener: urllib.request.OpenerDirector, url: str) -> tuple[int, str, str]:
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def post_url(post: PostFile) -> str:
    assert post.date is not None
    return f"http://{SITE_HOST}/{post.categories.lower()}/{post.date:%Y/%m/%d}/{post.name}.html"


def test_server_home_page(replica) -> None:
    _, _, opener = replica
    status, kind, html = fetch(opener, f"http://{SITE_HOST}/")
    assert status == 200 and kind.startswith("text/html")
    assert "<title>首页 | 金融消息</title>" in html
    assert '<h2 id="东财滚动新闻">东财滚动新闻</h2>' in html and '<h2 id="LME新闻">LME新闻</h2>' in html
    links = re.findall(r'<li><a href="(/[^"]+)">', html)
    assert links and all(POST_URL.match(link) for link in links)
    assert fetch(opener, f"http://{SITE_HOST}{links[0]}")[0] == 200


def test_server_category_page_lists_every_post(replica) -> None:
    site, _, opener = replica
    posts = [p for p in parsed(site) if p.categories == "jinwanbao"]
    status, _, html = fetch(opener, f"http://{SITE_HOST}/category/jinwanbao.html")
    assert status == 200
    listed = re.findall(r'  <li><a href="(/jinwanbao/\d{4}/\d\d/\d\d/NW\d{18}\.html)">', html)
    assert sorted(listed) == sorted(f"/jinwanbao/{p.date:%Y/%m/%d}/{p.name}.html" for p in posts)  # type: ignore[str-format]
    emnews_count = sum(p.categories == "emnews" for p in parsed(site))
    emnews = fetch(opener, f"http://{SITE_HOST}/category/emnews.html")[2]
    assert emnews.count("  <li>") == emnews_count
    rolling = fetch(opener, f"http://{SITE_HOST}/emnews/")[2]
    assert rolling.count('target="_blank"') == min(20, emnews_count)
    assert rolling == fetch(opener, f"http://{SITE_HOST}/emnews/index.html")[2]


def test_server_post_page(replica) -> None:
    site, _, opener = replica
    posts = {p.name: p for p in parsed(site)}
    post = posts[site.twin_info_code]
    url = post_url(post)
    status, _, html = fetch(opener, url)
    assert status == 200
    assert f"<title>{post.title} | 金融消息</title>" in html
    assert f'<link rel="canonical" href="{url}" />' in html
    assert f'<meta property="article:published_time" content="{post.date:%Y-%m-%dT%H:%M:%S+08:00}" />' in html
    assert f"<small>(GMT+8, Asia/Shanghai, CST) {post.date:%Y-%m-%d %H:%M:%S}</small>\n<h1>{post.title}</h1>" in html
    share = f"http://finews.zning.xyz/html_News/NewsShare.html?infoCode={site.twin_info_code}"
    assert f'<p><a href="{share}">{share}</a></p>' in html
    assert (
        f'<p><a href="//finews.withounder.com/category/{post.categories}.html">返回{post.tags[0]}</a>｜'
        '<a href="//finews.withounder.com/">返回首页</a></p>' in html
    )
    assert f"<small>tags: <em>{post.tags[0]}</em></small>" in html
    assert '<p class="em_media">（文章来源：' in html


def test_server_serves_market_and_malformed_posts(replica) -> None:
    site, _, opener = replica
    posts = parsed(site)
    market = next(p for p in posts if p.categories == "LME")
    assert fetch(opener, post_url(market))[0] == 200  # Jekyll lowercases the category in post URLs
    assert fetch(opener, f"http://{SITE_HOST}/category/LME.html")[0] == 200
    empty_title = next(p for p in posts if p.file_name in site.malformed and p.date is not None)
    assert "<h1></h1>" in fetch(opener, post_url(empty_title))[2]
    no_date = next(p for p in posts if p.date is None)
    day = no_date.file_name[:10].replace("-", "/")
    status, _, html = fetch(opener, f"http://{SITE_HOST}/emnews/{day}/{no_date.name}.html")
    assert status == 200 and "<small>(GMT+8, Asia/Shanghai, CST) </small>" in html
    assert "article:published_time" not in html


def test_server_share_host(replica) -> None:
    site, _, opener = replica
    posts = parsed(site)
    twin = next(p for p in posts if p.name == site.twin_info_code)
    status, kind, text = fetch(opener, f"http://{SHARE_HOST}/NewsData/GetNewsText.do?id={site.twin_info_code}")
    assert status == 200 and kind.startswith("application/json")
    answer = json.loads(text)
    assert answer == {"infoCode": site.twin_info_code, "content": share_text(twin), "title": twin.title, "text": share_text(twin)}
    assert answer["text"].startswith("<p>") and answer["text"].endswith("</p>")
    emnews = next(p for p in posts if p.categories == EMNEWS_CATEGORY and p.name != site.twin_info_code[2:])
    answer = json.loads(fetch(opener, f"http://{SHARE_HOST}/NewsData/GetNewsText.do?id=NW{emnews.name}")[2])
    assert answer == {"infoCode": f"NW{emnews.name}", "content": share_text(emnews)}
    assert not answer["content"].startswith(">")
    page = fetch(opener, f"http://{SHARE_HOST}/html_News/NewsShare.html?infoCode={site.twin_info_code}")
    assert page[0] == 200 and f'data-infocode="{site.twin_info_code}"' in page[2]
    assert fetch(opener, f"http://{SHARE_HOST}/NewsData/GetNewsText.do?id=NW000000000000000000")[0] == 404


def test_server_refuses_other_hosts_and_unknown_paths(replica) -> None:
    _, _, opener = replica
    status, kind, text = fetch(opener, "http://example.com/")
    assert status == 502 and kind.startswith("text/plain") and "example.com" in text
    assert fetch(opener, "http://choicewzp1.eastmoney.com/html_News/NewsShare.html?infoCode=NW1")[0] == 502
    status, kind, _ = fetch(opener, f"http://{SITE_HOST}/no/such/page.html")
    assert status == 404 and kind.startswith("text/html")


def test_server_origin_form_head_and_encoded_paths(replica) -> None:
    _, server, opener = replica
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", "/robots.txt", headers={"Host": f"{SITE_HOST}:80"})
        response = connection.getresponse()
        assert response.status == 200 and response.read() == b"User-agent: *\nDisallow:\n"
        connection.request("HEAD", "/feed.xml", headers={"Host": SITE_HOST})
        response = connection.getresponse()
        assert response.status == 200 and response.read() == b"" and int(response.getheader("Content-Length")) > 0
        connection.request("GET", "/", headers={"Host": "elsewhere.example"})
        response = connection.getresponse()
        assert response.status == 502 and response.read()
    finally:
        connection.close()
    status, _, html = fetch(opener, f"http://{SITE_HOST}/category/anxinguojizhengquan%28xianggang%29.html")
    assert status == 200 and "券商观点" in html
    feed = fetch(opener, f"http://{SITE_HOST}/feed.xml")
    assert feed[0] == 200 and feed[1].startswith("application/xml") and feed[2].count("<entry>") == 10


def test_resolve_reads_the_share_query() -> None:
    pages = render_site(parsed(generate_site(MIN_COUNT)))
    code = next(key[1].split("=")[1] for key in pages if key[0] == SHARE_HOST)
    assert resolve(pages, SHARE_HOST, "/NewsData/GetNewsText.do", f"id={code}&_=1").status == 200
    assert resolve(pages, SHARE_HOST.upper(), "/html_News/NewsShare.html", f"infoCode={code}").status == 200
    assert resolve(pages, SHARE_HOST, "/NewsData/GetNewsText.do", "").status == 404
    assert resolve(pages, SITE_HOST, "/", "utm=x").status == 200
