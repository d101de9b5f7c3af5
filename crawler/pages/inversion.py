"""A post's body as its file holds it, from the page alone: kramdown's rendering run backwards.

A post page shows its body as kramdown rendered it (crawler/pages/kramdown.py imitates that byte for
byte): plain paragraphs wrapped in ``<p>``, ``<url>`` as a link, ``*x*`` as ``<em>``, ``<>&`` escaped,
and raw HTML blocks re-serialised, each on its own line and without the leading spaces of its line.
``invert_body`` writes a source that renders to that same body and accepts it **only** when rendering
it again gives the page's body byte for byte; otherwise there is no inversion and the page's HTML is
what can be archived.

Where several sources render alike, the inversion takes what the site's generator wrote:

- an emnews or site-notice body is plain text (East Money's ``content``), an outlet body HTML
  (its ``text``): a ``<p>`` is a paragraph in the first and raw HTML in the second (each kind falls back
  on the other reading when its own does not render back);
- raw HTML blocks were joined by a newline and a space (``</p>\\n <p>``), but the outlet's source line
  was glued to the paragraph before it (``</p><p class="em_media">``);
- paragraphs were separated by one empty line; characters kramdown leaves alone (“”, …, ——) were
  written as themselves; ``<`` ``>`` ``&`` as themselves, or as the entity when the bare character
  would render differently; an apostrophe between Latin letters (``Moody’s``) was ``'``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from crawler.pages.kramdown import Budget, RenderBudgetExceeded, spans_to_html, to_html

PLAIN_KINDS = ("emnews", "sitenews")
# Bounds far past any article (corpus bodies: at most a few thousand characters, nested 3 deep): a page
# past them is hostile or broken, and keeps its HTML rather than costing seconds (the renderer is pure
# Python) or the renderer's recursion.
MAX_INVERTED_LENGTH = 1_000_000
MAX_NESTING = 50

_TAG = re.compile(r"<(/?)([A-Za-z][-\w:.]*)[^>]*?(/?)>")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_PARAGRAPH = re.compile(r"<p>(?P<inner>.*)</p>", re.S)
_BLOCKQUOTE = re.compile(r"<blockquote>\n(?P<inner>.*\n)</blockquote>", re.S)
_SOURCE_LINE_START = '<p class="em_media">'
# What kramdown made of span markup, and the entities its escaping wrote.
_SPAN = re.compile(
    r'<a href="(?P<href>[^"]*)"(?: title="(?P<title>[^"]*)")?>(?P<label>.*?)</a>'
    r'|<img src="(?P<src>[^"]*)" alt="(?P<alt>[^"]*)"(?: title="(?P<image_title>[^"]*)")? />'
    r"|</?(?P<mark>em|strong|del)>"
    r"|<br />(?=\n)"
    r"|&(?P<entity>lt|gt|amp|quot);",
    re.S,
)
_MARKS = {"em": "*", "strong": "**", "del": "~~"}
_AUTOLINK_TARGET = re.compile(r"(?:mailto|https?|ftps?):\S+", re.A)
_LATIN_APOSTROPHE = re.compile(r"(?<=[A-Za-z0-9])\u2019(?=[A-Za-z])")


def invert_body(rendered: str, kind: str) -> str | None:
    """The source ``rendered`` (a post page's body, without its digest, link and back links) was made from,
    or None when no reading of it renders back to exactly ``rendered``."""
    if len(rendered) > MAX_INVERTED_LENGTH:
        return None
    blocks = _top_level_blocks(rendered)
    if blocks is None:
        return None
    plain: list[Callable[[], str | None]] = [lambda: _plain_source(blocks), lambda: _plain_source(blocks, True)]
    raw: list[Callable[[], str | None]] = [lambda: _html_source(blocks)]
    for reading in plain + raw if kind in PLAIN_KINDS else raw + plain:
        source = reading()
        if source is not None and _renders_to(source, rendered):
            return source
    return None


def _renders_to(source: str, rendered: str, render: Callable[[str, Budget], str] = to_html) -> bool:
    """Whether kramdown renders ``source`` to ``rendered``; no, when rendering it would cost what no article
    costs (text from the network may be made to)."""
    try:
        return render(source, _budget(source)).strip("\n") == rendered
    except RenderBudgetExceeded:
        return False
    except RecursionError:
        # The renderer recurses once per nested element or emphasis: markup nested past Python's stack is
        # no article kramdown wrote (nesting the depth bound did not count, such as emphasis in links).
        return False


def _budget(source: str) -> Budget:
    # An article's text takes at most one step per character (measured on the corpus and the replica:
    # under 0.1); unclosed emphasis delimiters, which kramdown scans ahead from each, take far more.
    return Budget(2 * len(source) + 1000)


def invert_spans(rendered: str) -> str | None:
    """The one-paragraph source (a digest line) of ``rendered`` spans, or None when none renders back."""
    if len(rendered) > MAX_INVERTED_LENGTH:
        return None
    for keep_entities in (False, True):
        source = _span_source(rendered, keep_entities)
        if _renders_to(source, rendered, spans_to_html):
            return source
    return None


def _top_level_blocks(rendered: str) -> list[str] | None:
    """The body's top-level blocks, one per kramdown output line ("" for an empty line kramdown kept); None
    when elements nest deeper than an article's do (MAX_NESTING)."""
    blocks: list[str] = []
    depth, start, pos = 0, 0, 0
    while pos < len(rendered):
        if rendered[pos] == "<" and (tag := _TAG.match(rendered, pos)):
            closing, name, self_closed = tag[1], tag[2].lower(), tag[3]
            if closing:
                depth = max(depth - 1, 0)
            elif not self_closed and name not in _VOID:
                depth += 1
                if depth > MAX_NESTING:
                    return None
            pos = tag.end()
        elif rendered[pos] == "\n" and depth == 0:
            blocks.append(rendered[start:pos])
            start = pos = pos + 1
        else:
            pos += 1
    if start < len(rendered):
        blocks.append(rendered[start:])
    return blocks


def _plain_source(blocks: list[str], keep_entities: bool = False) -> str | None:
    """Paragraphs as text, quotes as ``>`` lines, anything else as raw HTML; an empty line kramdown kept
    is the blank line that separated two blocks."""
    lines: list[str] = []
    for block in blocks:
        if block == "":
            lines.append("")
        elif paragraph := _PARAGRAPH.fullmatch(block):
            if lines and lines[-1] != "":
                return None  # two paragraphs with no empty line between them would have been one
            lines.append(_span_source(paragraph["inner"], keep_entities))
        elif quote := _BLOCKQUOTE.fullmatch(block):
            quoted = _top_level_blocks(_dedent(quote["inner"]))
            inner = _plain_source(quoted, keep_entities) if quoted is not None else None
            if inner is None:
                return None
            lines.append("\n".join(f"> {line}" if line else ">" for line in inner.split("\n")))
        else:
            lines.append(block)
    return "\n".join(lines)


def _html_source(blocks: list[str]) -> str:
    """Every block raw HTML, as the outlets' texts join them (see the module doc)."""
    source = ""
    for index, block in enumerate(blocks):
        if index == 0:
            source = block
        elif block.startswith(_SOURCE_LINE_START) and blocks[index - 1]:
            source += block
        elif block and blocks[index - 1]:
            source += "\n " + block
        else:
            source += "\n" + block
    return source


def _dedent(text: str) -> str:
    return "\n".join(line.removeprefix("  ") for line in text.split("\n")).strip("\n")


def _span_source(rendered: str, keep_entities: bool) -> str:
    def source(match: re.Match[str]) -> str:
        if match["entity"]:
            return match[0] if keep_entities else html.unescape(match[0])
        if match["mark"]:
            return _MARKS[match["mark"]]
        if match["src"] is not None:
            title = f' "{html.unescape(match["image_title"])}"' if match["image_title"] is not None else ""
            return f"![{html.unescape(match['alt'])}]({html.unescape(match['src'])}{title})"
        if match["href"] is not None:
            href = html.unescape(match["href"])
            if match["title"] is None and match["label"] == match["href"] and _AUTOLINK_TARGET.fullmatch(href):
                return f"<{href}>"
            if match["title"] is None and href == f"mailto:{html.unescape(match['label'])}":
                return f"<{href.removeprefix('mailto:')}>"
            title = f' "{html.unescape(match["title"])}"' if match["title"] is not None else ""
            return f"[{_span_source(match['label'], keep_entities)}]({href}{title})"
        return "  "  # <br /> at a line's end: two spaces before the line break

    return _LATIN_APOSTROPHE.sub("'", _SPAN.sub(source, rendered))
