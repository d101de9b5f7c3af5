"""Synthetic finews posts: N post files in the site's own format, the same bytes for the same N and seed.

Every site of at least ``MIN_COUNT`` posts holds each feature a crawler must handle:

- emnews posts (``categories: emnews``, ``> digest`` line, 18-digit name, East Money article link,
  both ``/a/<digits>.html`` and ``/news/<column>,<digits>.html``), some with a plain-text body;
- outlet posts (``NW`` + 18 digits, share link on ``finews.zning.xyz``, back link to their category):
  今晚报 (with an editor note), 上海证券报 and 证券时报 (source lines with nested quote spans), 第一财经;
- a market post (tag ``LME新闻``, category ``LME``) whose share link is on ``choicewzp1.eastmoney.com``;
- one article published twice: an emnews post ``<digits>`` and an outlet post ``NW<digits>`` with the
  same date and body (``twin_info_code``);
- two malformed posts, not in ``valid_info_codes``: an empty title (``title: ""``) and an unusable
  date (``date:  +0800``);
- the news README's search examples look for (央行, 降准, 存款准备金): the reserve-requirement cut opens
  one in five valid news articles (not the LME reports), every other one of them headlined with it.

Bodies are ``<p>`` lines as the share host gives them (lines after the first start with a space),
with stock-quote spans (``keytip``, ``em_stock_key_common``) and entities (``&lt;`` ``&gt;`` ``&amp;``).
Ids are the publication date (Asia/Shanghai) + ``22`` + an 8-digit sequence that grows with time,
the shape of the real ids (``202112272226582498``); dates fall within three days from 2021-12-25.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from crawler.postfile import EMNEWS_CATEGORY, EMNEWS_TAG, SHANGHAI, format_post_file, post_file_name

MIN_COUNT = 9
START = datetime(2021, 12, 25, 7, 30, tzinfo=SHANGHAI)
SPAN = timedelta(days=3)
SHARE_LINK = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode={code}"
MARKET_SHARE_LINK = "http://choicewzp1.eastmoney.com/html_News/NewsShare.html?infoCode={code}"
UNUSABLE_DATE = "date:  +0800"
# The news README's examples search for (`finews search 存款准备金`, `finews search 央行 降准`, the Datasette
# query), as the site carried it in December 2021: told by one in RESERVE_CUT_EVERY valid news articles.
RESERVE_CUT_EVERY = 5
RESERVE_CUT_HEADLINE = "央行宣布全面降准 释放长期资金约1.2万亿元"
RESERVE_CUT_TEXT = (
    "中国人民银行决定于2021年12月15日下调金融机构存款准备金率0.5个百分点（不含已执行5%存款准备金率的金融机构）。"
    "此次央行全面降准共计释放长期资金约1.2万亿元。"
)


@dataclass(frozen=True)
class SyntheticSite:
    files: list[tuple[str, str]]  # (file name, file text)
    valid_info_codes: frozenset[str]
    malformed: tuple[str, ...]  # file names
    twin_info_code: str


@dataclass(frozen=True)
class Outlet:
    media: str
    slug: str
    tag: str
    source_html: str  # what the body's source line names, as East Money marks it up
    market: bool = False


def _quote_span(kind: str, market: str, code: str, label: str) -> str:
    """East Money's quote link around a word: ``<span id=…><a … class="keytip">…</a></span><span …></span>``."""
    key = f"{market}.{code}"
    return (
        f'<span id="{kind}_{key}"><a href="http://quote.eastmoney.com/unify/r/{key}" class="keytip" '
        f'data-code="{market},{code}">{label}</a></span><span id="{"bkquote" if kind == "bk" else "quote"}_{key}"></span>'
    )


JINWANBAO = Outlet("今晚报", "jinwanbao", "今晚报新闻", "今晚报")
SHANGHAIZHENGQUANBAO = Outlet(
    "上海证券报", "shanghaizhengquanbao", "上海证券报新闻", f"上海{_quote_span('bk', '90', 'BK0473', '证券')}报"
)
ZHENGQUANSHIBAO = Outlet(
    "证券时报", "zhengquanshibao", "证券时报新闻", f"{_quote_span('bk', '90', 'BK0473', '证券')}时报"
)
DIYICAIJING = Outlet("第一财经", "diyicaijing", "第一财经新闻", "第一财经")
LME = Outlet("LME", "LME", "LME新闻", "LME", market=True)
OUTLETS = (JINWANBAO, SHANGHAIZHENGQUANBAO, ZHENGQUANSHIBAO, DIYICAIJING)

_COMPANIES = (
    ("金桥科技", "1", "600917"), ("远航能源", "0", "002817"), ("中瑞医药", "1", "603718"),
    ("北辰电子", "0", "300896"), ("南方智造", "1", "601983"), ("天衡物流", "0", "000975"),
    ("华岳新材", "1", "688316"), ("东湖银行", "1", "601737"),
)
_SECTORS = (("新能源", "BK0493"), ("半导体", "BK1036"), ("白酒", "BK0896"), ("券商", "BK0473"))
_ORGS = ("国家统计局", "央行", "证监会", "市商务局", "市人力社保局", "国家发改委", "上交所", "深交所", "市统计局")
_PLACES = ("天津", "上海", "深圳", "杭州", "成都", "武汉", "苏州", "重庆")
_TOPICS = ("稳就业", "促消费", "保供稳价", "科技创新", "绿色转型", "优化营商环境", "数字经济", "乡村振兴")
_DOCS = ("实施方案", "指导意见", "行动计划", "管理办法", "专项通知")
_ACTIONS = ("发布", "印发", "出台", "公布")
_MOVES = ("上涨", "下跌", "收涨", "收跌", "涨超", "跌超")
_INDICES = ("沪指", "深证成指", "创业板指", "恒生指数", "LME铜", "LME铝", "LME锌")
_EVENTS = ("签订重大合同", "获得政府补助", "拟回购股份", "发布业绩预告", "新建生产基地", "完成增资扩股")
_EDITORS = ("刘颖", "王帆", "张然", "李静", "赵磊", "陈曦")
_OPENERS = ("记者从{org}获悉，", "据{org}消息，", "{place}讯：", "近日，", "今年以来，")
_CLAUSES = (
    "{org}围绕{topic}推出多项举措",
    "{place}全年完成固定资产投资{amount}亿元，同比增长{pct}%",
    "{company}表示，公司将继续加大研发投入，推进{topic}相关项目落地",
    "业内人士认为，{sector}板块短期仍有波动，但中长期景气度向好",
    "截至目前，相关企业累计签约金额超过{amount}亿元",
    "分析人士指出，{topic}将成为明年经济工作的重点之一",
    "{index}{move}{pct}%，成交额较前一交易日有所放大",
    "数据显示，前三季度{place}规模以上工业增加值同比增长{pct}%",
)
_HEADLINES = (
    "{org}{action}{topic}{doc}",
    "{company}：{event}",
    "{index}{move}{pct}%",
    "{place}{topic}取得新进展",
    "{org}：{topic}工作成效明显",
    "{sector}板块午后走强 {company}{move}{pct}%",
)
_NEWS_HOSTS = ("finance", "stock", "hk", "futures", "forex")
_NEWS_COLUMNS = ("1344", "1345", "1350", "1351", "1353", "1354", "1355", "1513", "1533", "1535", "1764", "1768")


@dataclass(frozen=True)
class _Article:
    kind: str  # "emnews", "emnews-plain", "outlet", "twin", "empty-title", "bad-date"
    outlet: Outlet | None = None
    article_link_a: bool = False  # emnews link as ``/a/<digits>.html`` rather than ``/news/<col>,…``


# The first articles give every feature; the rest are drawn at random.
_PLAN = (
    _Article("emnews"),
    _Article("outlet", JINWANBAO),
    _Article("twin", SHANGHAIZHENGQUANBAO, article_link_a=True),  # two files
    _Article("outlet", LME),
    _Article("outlet", ZHENGQUANSHIBAO),
    _Article("outlet", DIYICAIJING),
    _Article("empty-title", JINWANBAO),
    _Article("bad-date"),
)


class _Writer:
    """Headlines and bodies composed from the word lists above."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def _fill(self, template: str) -> str:
        rng = self.rng
        company = rng.choice(_COMPANIES)
        sector = rng.choice(_SECTORS)
        return template.format(
            org=rng.choice(_ORGS), place=rng.choice(_PLACES), topic=rng.choice(_TOPICS),
            doc=rng.choice(_DOCS), action=rng.choice(_ACTIONS), move=rng.choice(_MOVES),
            index=rng.choice(_INDICES), event=rng.choice(_EVENTS), company=company[0], sector=sector[0],
            pct=f"{rng.randint(1, 30)}.{rng.randint(0, 99):02d}", amount=rng.randint(2, 900),
        )

    def headline(self, outlet: Outlet | None) -> str:
        if outlet is not None and outlet.market:
            return self._fill("{index}{move}{pct}% 库存连续第三日下降")
        return self._fill(self.rng.choice(_HEADLINES))

    def sentence(self) -> str:
        opener = self._fill(self.rng.choice(_OPENERS)) if self.rng.random() < 0.5 else ""
        return opener + self._fill(self.rng.choice(_CLAUSES)) + "。"

    def _marked_up(self, sentence: str) -> str:
        """A sentence with a stock or sector quote span or an entity, as East Money bodies have."""
        rng = self.rng
        choice = rng.randrange(4)
        if choice == 0:
            name, market, code = rng.choice(_COMPANIES)
            return f"{_quote_span('stock', market, code, name)}公告称，{sentence}"
        if choice == 1:
            name, market, code = rng.choice(_COMPANIES)
            key = f"{market}.{code}"
            common = (
                f'<span web="1" href="http://quote.eastmoney.com/unify/r/{key}" class="em_stock_key_common" '
                f'data-code="{market},{code}">{name}</span>'
            )
            return f"{sentence[:-1]}，{common}等个股表现活跃。"
        if choice == 2:
            sector, code = rng.choice(_SECTORS)
            return f"{_quote_span('bk', '90', code, sector)}板块方面，{sentence}"
        return f"《关于&lt;{rng.choice(_TOPICS)}&gt;的{rng.choice(_DOCS)}》明确，研发&amp;生产一体化项目优先支持。{sentence}"

    def html_body(self, outlet: Outlet | None, editor_note: bool) -> str:
        """``<p>`` lines; the last one carries the editor note and the source line."""
        rng = self.rng
        paragraphs = []
        for index in range(rng.randint(2, 5)):
            text = "".join(self.sentence() for _ in range(rng.randint(1, 3)))
            if index > 0 and rng.random() < 0.5:
                text = self._marked_up(text)
            if index > 0 and rng.random() < 0.2:
                paragraphs.append(f"<p><strong>{self._fill('{topic}')}：</strong></p>")
            paragraphs.append(f"<p>{text}</p>")
        if editor_note:
            paragraphs[-1] = paragraphs[-1][: -len("</p>")] + f"(津云新闻编辑{rng.choice(_EDITORS)})</p>"
        if outlet is not None:
            paragraphs[-1] += f'<p class="em_media">（文章来源：{outlet.source_html}）</p>'
        return "\n ".join(paragraphs)

    def plain_body(self) -> str:
        return "".join(self.sentence() for _ in range(self.rng.randint(1, 3)))

    def digest(self) -> str:
        return self.sentence()

    def article_link(self, digits: str, a_form: bool) -> str:
        if a_form:
            return f"http://finance.eastmoney.com/a/{digits}.html"
        host, column = self.rng.choice(_NEWS_HOSTS), self.rng.choice(_NEWS_COLUMNS)
        return f"http://{host}.eastmoney.com/news/{column},{digits}.html"


def _articles(count: int, rng: random.Random) -> list[_Article]:
    articles = list(_PLAN)
    files = len(articles) + 1  # the twin is two files
    while files < count:
        draw = rng.random()
        if draw < 0.25:
            article = _Article("emnews", article_link_a=rng.random() < 0.3)
        elif draw < 0.4:
            article = _Article("emnews-plain")
        elif draw < 0.9:
            article = _Article("outlet", rng.choice(OUTLETS))
        else:
            article = _Article("outlet", LME)
        articles.append(article)
        files += 1
    rng.shuffle(articles)
    return articles


def _instants(count: int, rng: random.Random) -> list[datetime]:
    """``count`` distinct increasing instants (whole seconds) within ``SPAN`` of ``START``."""
    seconds = max(int(SPAN.total_seconds()), 2 * count)  # more posts than seconds: a longer span
    return [START + timedelta(seconds=offset) for offset in sorted(rng.sample(range(seconds), count))]


def generate_site(count: int, seed: int = 0) -> SyntheticSite:
    """``count`` post files (at least ``MIN_COUNT``); the same count and seed give the same bytes."""
    if count < MIN_COUNT:
        raise ValueError(f"a synthetic site needs at least {MIN_COUNT} posts, got {count}")
    rng = random.Random(f"finews-replica:{count}:{seed}")
    writer = _Writer(rng)
    articles = _articles(count, rng)
    instants = _instants(len(articles), rng)
    sequence = rng.randint(10_000_000, 20_000_000)
    step = max(1, min(5_000, 70_000_000 // count))

    files: list[tuple[str, str]] = []
    valid: set[str] = set()
    malformed: list[str] = []
    twin = ""
    told = 0  # articles so far that could carry the reserve-requirement cut
    for article, instant in zip(articles, instants, strict=True):
        sequence += rng.randint(1, step)
        digits = f"{instant.astimezone(SHANGHAI):%Y%m%d}22{sequence:08d}"
        code = "NW" + digits
        title = writer.headline(article.outlet)
        emnews = article.kind in ("emnews", "emnews-plain", "bad-date")
        if emnews:
            body = writer.plain_body() if article.kind == "emnews-plain" else writer.html_body(None, False)
        else:
            assert article.outlet is not None
            body = writer.html_body(article.outlet, editor_note=article.outlet is JINWANBAO)
        if _can_tell_the_cut(article):
            title, body = _telling_the_cut(told, title, body, plain=article.kind == "emnews-plain")
            told += 1
        if emnews:
            text = _emnews_file(writer, title, instant, body, digits, article.article_link_a)
            if article.kind == "bad-date":
                text = _unusable_date(text)
            name = post_file_name(instant, digits)
        else:
            assert article.outlet is not None
            outlet = article.outlet
            if article.kind == "empty-title":
                title = ""
            text = _outlet_file(title, instant, outlet, body, code)
            name = post_file_name(instant, code)
            if article.kind == "twin":
                twin = code
                files.append(
                    (post_file_name(instant, digits), _emnews_file(writer, title, instant, body, digits, True))
                )
        files.append((name, text))
        if article.kind in ("empty-title", "bad-date"):
            malformed.append(name)
        else:
            valid.add(code)
    files.sort()
    return SyntheticSite(files, frozenset(valid), tuple(sorted(malformed)), twin)


def _can_tell_the_cut(article: _Article) -> bool:
    """A valid news article (not a malformed post, not a metals market report)."""
    if article.kind not in ("emnews", "emnews-plain", "outlet", "twin"):
        return False
    return article.outlet is None or not article.outlet.market


def _telling_the_cut(told: int, title: str, body: str, plain: bool) -> tuple[str, str]:
    """Every ``RESERVE_CUT_EVERY``-th article (the first included) opens with the cut, and every other one of
    those is headlined with it. Drawn from nothing random, so the rest of the site keeps its bytes."""
    if told % RESERVE_CUT_EVERY:
        return title, body
    if told % (2 * RESERVE_CUT_EVERY) == 0:
        title = RESERVE_CUT_HEADLINE
    return title, RESERVE_CUT_TEXT + body if plain else f"<p>{RESERVE_CUT_TEXT}</p>\n {body}"


def _emnews_file(writer: _Writer, title: str, instant: datetime, body: str, digits: str, a_form: bool) -> str:
    return format_post_file(
        title=title,
        published_at=instant,
        category=EMNEWS_CATEGORY,
        tags=[EMNEWS_TAG],
        body=body,
        link=writer.article_link(digits, a_form),
        digest=writer.digest(),
    )


def _outlet_file(title: str, instant: datetime, outlet: Outlet, body: str, code: str) -> str:
    template = MARKET_SHARE_LINK if outlet.market else SHARE_LINK
    return format_post_file(
        title=title,
        published_at=instant,
        category=outlet.slug,
        tags=[outlet.tag],
        body=body,
        link=template.format(code=code),
    )


def _unusable_date(text: str) -> str:
    head, _, rest = text.partition("\ndate: ")
    return head + "\n" + UNUSABLE_DATE + rest[rest.index("\n") :]


# The outlet's line at the end of a body: what a redesign of the site could drop (without_source_lines).
_SOURCE_LINE = re.compile(r'<p class="em_media">[（(]文章来源[：:].*?[）)]</p>', re.S)


def without_source_lines(files: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The post files as a redesigned site would serve them: no ``（文章来源：…）`` line in any body, on the
    post pages and the share host alike; for testing that ``finews check`` notices the parser no longer
    finding a field."""
    return [(name, _SOURCE_LINE.sub("", text)) for name, text in files]


class ForeignPostFiles(ValueError):
    """The folder to write a synthetic site into holds post files of another site."""


def write_site(directory: Path, site: SyntheticSite) -> None:
    """Write the post files into ``directory`` (created if needed), byte for byte. A folder holding other
    ``.md`` files is refused, not cleaned: they may be someone's posts, and mixed with these they would make
    ``finews verify`` report posts the replica never served."""
    directory.mkdir(parents=True, exist_ok=True)
    names = {name for name, _ in site.files}
    foreign = sorted(path.name for path in directory.glob("*.md") if path.name not in names)
    if foreign:
        raise ForeignPostFiles(f"{directory} holds {len(foreign)} post files this replica does not serve "
                               f"({foreign[0]}…): give an empty folder")
    for name, text in site.files:
        (directory / name).write_bytes(text.encode("utf-8"))
