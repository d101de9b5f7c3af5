import pytest

from crawler.infocode import InfoCodeError, infocode_from_name, infocode_from_url


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
