"""infoCodes: the one canonical function, on every URL form the real corpus holds, and on garbage."""

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.infocode import InfoCodeError, canonical_infocode, infocode_from_name, infocode_from_url
from tests.shared import CORPUS, needs_shared


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("NW202112272226582498", "NW202112272226582498"),
        ("202112082206672930", "NW202112082206672930"),
    ],
)
def test_names(source, expected):
    assert infocode_from_name(source) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202112272226582498", "NW202112272226582498"),
        ("http://choicewzp1.eastmoney.com/html_News/NewsShare.html?infoCode=NW202112272226582498", "NW202112272226582498"),
        ("http://finews.zning.xyz/NewsData/GetNewsText.do?id=NW202112082206735975", "NW202112082206735975"),
        ("http://finance.eastmoney.com/news/11060,202112082206672930.html", "NW202112082206672930"),
        ("http://hk.eastmoney.com/news/1533,202112082206742097.html", "NW202112082206742097"),
        ("http://finance.eastmoney.com/a/202112272226582498.html", "NW202112272226582498"),
    ],
)
def test_urls(url, expected):
    assert infocode_from_url(url) == expected


@pytest.mark.parametrize(
    "bad",
    ["init", "NW2021", "../../etc/passwd", "NW202112272226582498/../x", "2021122722265824981", ""],
)
def test_garbage_names_are_refused(bad):
    with pytest.raises(InfoCodeError):
        infocode_from_name(bad)


def test_urls_without_a_code_are_refused():
    with pytest.raises(InfoCodeError):
        infocode_from_url("http://example.com/a/202112272226582498.html")
    with pytest.raises(InfoCodeError):
        infocode_from_url("http://finews.zning.xyz/html_News/NewsShare.html?infoCode=../../x")


CODE = "NW202112272226582498"


@pytest.mark.parametrize(
    "value",
    [
        CODE,
        "202112272226582498",
        f"  {CODE}\n",  # as a line of a file
        f"http://finews.zning.xyz/html_News/NewsShare.html?infoCode={CODE}",
        f"http://choicewzp1.eastmoney.com/html_News/NewsShare.html?infoCode={CODE}",
        f"https://any.example/html_News/NewsShare.html?from=app&infoCode={CODE}#top",
        "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=202112272226582498",
        f"http://finews.zning.xyz/html_News/NewsShare.html?infoCode=%4E%57{CODE[2:]}",
        f"http://finews.zning.xyz/NewsData/GetNewsText.do?id={CODE}",
        f"/NewsData/GetNewsText.do?id={CODE}",
        "http://finance.eastmoney.com/news/11060,202112272226582498.html",
        "http://mss.eastmoney.com/news/1533,202112272226582498.html",
        "https://finance.eastmoney.com/a/202112272226582498.html",
        "http://eastmoney.com/a/202112272226582498.html",
        f"http://finews.withounder.com/jinwanbao/2021/12/27/{CODE}.html",
        "//finews.withounder.com/emnews/2021/12/27/202112272226582498.html",
        "/emnews/2021/12/27/202112272226582498.html",
        "http://finews.withounder.com/21shijijingjibaodao/21caijingapp/2021/12/27/NW202112272226582498.html",
    ],
)
def test_every_form_gives_the_one_key(value):
    assert canonical_infocode(value) == CODE


def test_another_two_letter_prefix_is_kept_as_the_share_link_writes_it():
    assert canonical_infocode("http://finews.zning.xyz/html_News/NewsShare.html?infoCode=AN202112272226582498") == (
        "AN202112272226582498")


@pytest.mark.parametrize(
    ("garbage", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("init", "is not NW"),
        ("NW2021", "is not NW"),  # too short
        ("NW2021122722265824981", "is not NW"),  # too long
        ("2021122722265824", "is not NW"),
        ("nw202112272226582498", "is not NW"),
        ("NW２０２１１２２７２２２６５８２４９８", "is not NW"),  # full-width digits
        ("NW٢٠٢١١٢٢٧٢٢٢٦٥٨٢٤٩٨", "is not NW"),  # Arabic-Indic digits
        ("NW202112272226582498/../x", "is not NW"),
        ("../../etc/passwd", "is not NW"),
        ("/../../etc/passwd", "an injected path"),
        (f"http://finews.withounder.com/../../etc/2021/12/27/{CODE}.html", "an injected path"),
        (f"http://finews.withounder.com/jinwanbao/2021/12/27/%2e%2e/{CODE}.html", "an injected path"),
        (f"https://finance.eastmoney.com/a/{CODE[2:]}.html?infoCode=NW202112272226582499", "names two infoCodes"),
        (f"{CODE}\x00", "control characters"),
        ("NW 202112272226582498", "spaces"),
        ("x" * 5000, "characters long"),
        ("http://finews.zning.xyz/html_News/NewsShare.html?infoCode=../../x", "is not NW"),
        ("http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202112272226582498%2F..%2Fx", "is not NW"),
        ("http://finews.zning.xyz/html_News/NewsShare.html?infoCode=", "is not NW"),
        (f"http://x/NewsShare.html?infoCode={CODE}&infoCode=NW202112272226582499", "several infoCodes"),
        ("http://finews.zning.xyz/html_News/NewsShare.html", "carries no infoCode"),
        ("http://example.com/page?id=NW202112272226582498", "carries no infoCode"),  # id= only on GetNewsText
        ("http://example.com/a/202112272226582498.html", "carries no infoCode"),
        ("http://evileastmoney.com/a/202112272226582498.html", "carries no infoCode"),
        ("http://finance.eastmoney.com/news/11060,2021122722265824.html", "carries no infoCode"),
        ("http://finance.eastmoney.com/news/abc,202112272226582498.html", "carries no infoCode"),
        ("http://finews.withounder.com/sitenews/2021/12/01/init.html", "is not NW"),
        ("http://finews.withounder.com/category/jinwanbao.html", "carries no infoCode"),
        ("http://finews.withounder.com/", "carries no infoCode"),
    ],
)
def test_garbage_is_refused_saying_why(garbage, says):
    with pytest.raises(InfoCodeError, match=re.escape(says)):
        canonical_infocode(garbage)


@given(st.text(max_size=300))
def test_anything_gives_a_key_or_a_clear_refusal(value):
    try:
        code = canonical_infocode(value)
    except InfoCodeError as error:
        assert str(error)
    else:
        assert re.fullmatch(r"[A-Z]{2}[0-9]{18}", code)


# Every URL form in the real corpus ------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9]{18}")
_LINK_LINE = re.compile(r"^<(http[^>]*)>$", re.M)
_HREF = re.compile(r'href="([^"]*)"')
_FETCH = re.compile(r"fetch\('([^']*)'\)")


def _form(url: str) -> str:
    """The shape of a URL with its digits and column hidden, to count the forms met."""
    return re.sub(r"/news/[0-9]+,", "/news/COL,", _DIGITS.sub("D", url))


def _corpus_urls() -> dict[str, set[str]]:
    """Every URL the corpus holds, by where it is: post link lines, hrefs of rendered pages, share pages."""
    urls: dict[str, set[str]] = {"link lines": set(), "rendered hrefs": set(), "share pages": set()}
    for post in (CORPUS / "posts").glob("*.md"):
        urls["link lines"].update(_LINK_LINE.findall(post.read_text(encoding="utf-8")))
    for page in (CORPUS / "rendered").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        urls["rendered hrefs"].update(_HREF.findall(text))
        urls["share pages"].update(_FETCH.findall(text))
    return urls


@needs_shared
def test_every_share_article_and_post_url_in_the_corpus_gives_its_digits():
    forms: set[str] = set()
    refused: set[str] = set()
    for urls in _corpus_urls().values():
        for url in urls:
            digits = _DIGITS.findall(url)
            if not digits:
                refused.add(url)
                with pytest.raises(InfoCodeError):
                    canonical_infocode(url)
                continue
            assert canonical_infocode(url)[2:] == digits[-1], url
            forms.add(_form(url))
    # Each kind of URL an article is known by was met at least once.
    assert {
        "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NWD",
        "/NewsData/GetNewsText.do?id=NWD",
        "http://finance.eastmoney.com/a/D.html",
        "http://finance.eastmoney.com/news/COL,D.html",
        "http://hk.eastmoney.com/news/COL,D.html",
        "http://finews.withounder.com/jinwanbao/2021/12/27/NWD.html",
        "/emnews/2021/12/08/D.html",
    } <= forms, sorted(forms)
    assert "//finews.withounder.com/category/jinwanbao.html" in refused  # back links name no article


@needs_shared
def test_each_corpus_post_link_names_the_post_itself():
    for post in (CORPUS / "posts").glob("*.md"):
        links = _LINK_LINE.findall(post.read_text(encoding="utf-8"))
        if links and _DIGITS.search(post.name):
            assert canonical_infocode(links[-1]) == canonical_infocode(_DIGITS.search(post.name)[0]), post.name


@needs_shared
def test_each_share_host_answer_is_keyed_by_the_code_its_url_names():
    for answer in (CORPUS / "rendered" / "share" / "newsdata").glob("*.json"):
        url = f"http://finews.zning.xyz/NewsData/GetNewsText.do?id={answer.stem}"
        assert canonical_infocode(url) == json.loads(answer.read_text(encoding="utf-8"))["infoCode"]
