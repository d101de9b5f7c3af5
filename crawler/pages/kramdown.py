"""A small imitation of kramdown 2.4 as Jekyll 4.3 runs it (GFM input, ``entity_output: as_char``).

It covers what finews posts and the site's own pages contain, ported from kramdown's parsers so the
output matches byte for byte:

- blocks: blank lines, ``> `` blockquotes, ``---`` rules, raw HTML blocks (``parse_block_html`` is off,
  so a block element's content is kept raw but re-serialised: tags normalised, ``<>&`` in text escaped,
  every top-level element on its own line), HTML comments, paragraphs;
- spans: ``<url>`` autolinks, ``[text](url)`` links and images, span HTML, entities, smart quotes,
  typographic symbols (``--``, ``...``, ``<<``), emphasis, code spans (as Jekyll's Rouge marks plain
  text), ``~~`` strikethrough, backslash escapes, line breaks.

Not imitated (finews bodies don't use them): code blocks, headers, lists, tables, definition lists,
footnotes, reference links, math, IALs; their lines stay paragraph text.

Ruby's ``\\s`` and ``\\w`` are ASCII-only, so the patterns spell those classes out; Ruby's
StringScanner anchors ``^`` at the scan position, so block patterns are matched at a position with
``Pattern.match(text, pos)`` instead of using ``^``.
"""

from __future__ import annotations

import html.entities
import re
from collections.abc import Callable
from dataclasses import dataclass, field

_WS = r"[ \t\n\v\f\r]"  # Ruby's \s
_WORD = r"[A-Za-z0-9_]"  # Ruby's \w
_NCNAME = r"[^\W\d][-\w.]*"  # REXML: [[:alpha:]_][-[:alnum:]._]*
_NAME = rf"(?:{_NCNAME}:)?{_NCNAME}"

_TAG = re.compile(
    rf"<((?>{_NAME})){_WS}*((?>{_WS}+{_NAME}(?:{_WS}*={_WS}*(?:\w+|(\"|').*?\3))?)*){_WS}*(/)?>", re.S
)
_TAG_CLOSE = re.compile(rf"</({_NAME}){_WS}*>", re.S)
_ATTRIBUTE = re.compile(rf"{_WS}*({_NAME})(?:{_WS}*={_WS}*(?:(\w+)|(\"|')(.*?)\3))?", re.S)
_COMMENT = re.compile(r"<!--(.*?)-->", re.S)
_INSTRUCTION = re.compile(r"<\?(.*?)\?>", re.S)
_RAW_START = re.compile(rf"<(?:{_NAME}|/|!--|\?)")
_TRAILING_WHITESPACE = re.compile(r"[ \t]*\n")
_REFERENCE = re.compile(r"&(?:[\w:][-\w.:]*;|#\d+;|#x[0-9a-fA-F]+;)", re.A)
_ESCAPE_TEXT = re.compile(rf"{_REFERENCE.pattern}|[<>&]", re.A)
_ESCAPE_ATTRIBUTE = re.compile(rf"{_REFERENCE.pattern}|[<>&\"]", re.A)
_ESCAPE_MAP = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;"}

_SPAN_ELEMENTS = frozenset(
    "a abbr acronym b big bdo br button cite code del dfn em i img input ins kbd label mark option q rb "
    "rbc rp rt rtc ruby samp select small span strong sub sup tt u var".split()
)
_BLOCK_ELEMENTS = frozenset(
    "address article aside applet body blockquote caption col colgroup dd div dl dt fieldset figcaption "
    "footer form h1 h2 h3 h4 h5 h6 header hgroup hr html head iframe legend menu li main map nav ol "
    "optgroup p pre section summary table tbody td th thead tfoot tr ul".split()
)
_WITHOUT_BODY = frozenset(
    "area base br col command embed hr img input keygen link meta param source track wbr".split()
)
_CONTENT_BLOCK = frozenset(
    "address applet article aside blockquote body dd details div dl fieldset figure figcaption footer "
    "form header hgroup iframe li main map menu nav noscript object section summary td".split()
)
_CONTENT_SPAN = frozenset(
    "a abbr acronym b bdo big button cite caption del dfn dt em h1 h2 h3 h4 h5 h6 i ins label legend "
    "optgroup p q rb rbc rp rt rtc ruby select small span strong sub sup th tt".split()
)
_CONTENT_RAW = frozenset("script style math option textarea pre code kbd samp var".split())
_KNOWN_ELEMENTS = _SPAN_ELEMENTS | _BLOCK_ELEMENTS | _WITHOUT_BODY | _CONTENT_BLOCK | _CONTENT_SPAN | _CONTENT_RAW

# Block starts, matched at the scan position (see the module doc about ``^``).
_BLANK = re.compile(r"(?:[ \t\n\v\f\r]*\n)+")
_BLOCKQUOTE_START = re.compile(r" {0,3}> ?")
_BLOCKQUOTE_STRIP = re.compile(r"^ {0,3}> ?", re.M)
_RULE = re.compile(r" {0,3}([-*_])[ \t]*\1[ \t]*\1(?:\1|[ \t])*\n")
_HTML_BLOCK_START = re.compile(rf" {{0,3}}<(?:{_NAME}|!--|/)")
_HTML_BLOCK_TAG = re.compile(rf" {{0,3}}{_TAG.pattern}", re.S)
_PARAGRAPH_START = re.compile(r" {0,3}[^ \t].*?\n")
_LINE = re.compile(r".*?\n")
_LAZY_SPAN = "|".join(sorted(_SPAN_ELEMENTS | {"script"}))
# What ends a lazy blockquote line: a blank line, block HTML, the end.
_LAZY_END_PATTERN = (
    r"(?:[ \t\n\v\f\r]*\n)+"
    rf"| {{0,3}}</(?!(?:{_LAZY_SPAN})\b){_NAME}{_WS}*>"
    rf"| {{0,3}}<(?>(?!(?:{_LAZY_SPAN})\b){_NAME})"
    r"|\Z"
)
_LAZY_END = re.compile(_LAZY_END_PATTERN, re.S)
# What ends a paragraph (GFM quirk ``paragraph_end``): those, an IAL or end-of-block marker, a list or
# definition item, an ATX header, a blockquote or a code fence.
_PARAGRAPH_END = re.compile(
    _LAZY_END_PATTERN
    + r"|\{:(?!:|/).*?\}[ \t]*\n|\^[ \t\n\v\f\r]*?\n"
    r"| {0,3}(?:[+*-]|\d+\.|:)[\t| ]"
    r"|#{1,6}[\t ]+.*\n"
    r"| {0,3}> ?"
    r"| {0,3}[~`]{3,}",
    re.S,
)

# Span starts (kramdown's span_start strings, in its parser order).
_AUTOLINK = re.compile(r"<((mailto|https?|ftps?):.+?|[\w\-.]+?@[\w\-.]+?)>")
_SPAN_HTML_START = re.compile(rf"<(?:{_NAME}|!--|/)")
_LINK_START = re.compile(r"!?\[(?=[^^])")
_LINK_ANGLE_URL = re.compile(r"\(<(.*?)>")
_LINK_PAREN_STOP = re.compile(r"(\()|(\))|[ \t\n\v\f\r](?=['\"])")
_LINK_TITLE = re.compile(r"[ \t\n\v\f\r]*?([\"'])(.+?)\1[ \t\n\v\f\r]*?\)", re.S)
_EMPHASIS = re.compile(r"\*\*?|__?")
_CODESPAN = re.compile(r"`+")
_STRIKETHROUGH = re.compile(r"~~(?![ \t\n\v\f\r]|~).*?[^ \t\n\v\f\r~]~~", re.S)
_WS_CHARS = " \t\n\v\f\r"
_SMART_QUOTE_START = re.compile(r"[^\\]?[\"']")
_ENTITY = re.compile(r"&([\w:][-\w.:]*);|&#(\d+);|&#x([0-9a-fA-F]+);", re.A)
_TYPOGRAPHIC = re.compile(r"---|--|\.\.\.|\\<<|\\>>|<< | >>|<<|>>")
_LINE_BREAK = re.compile(r"(?:  |\\\\)(?=\n)")
_ESCAPED = re.compile(r"\\([\\.*_+`<>()\[\]{}#!:|\"'$=\-~])")
_SPAN_START = re.compile(
    r"\*|_|`|<|!?\[|[^\\]?[\"']|\$|\{:?\{|&|--|\.\.\.|(?:\\| )?(?:<<|>>)|(?:  |\\\\)(?=\n)|\\|~~"
)

_SQ_PUNCT = r"[!\"#$%'()*+,\-./:;<=>?@\[\\\]^_`{|}~]"
_SQ_CLOSE = r"[^ \\\t\r\n\[{(-]"
_LEFT, _RIGHT = "left", "right"
# kramdown's SQ_RULES: (pattern, [group to keep as text | (side, group holding the quote) | literal]).
_SQ_RULES: list[tuple[re.Pattern[str], list[object]]] = [
    (re.compile(r"(\"|')(?=[_*]{1,2}[^ \t\n\v\f\r])"), [(_LEFT, 1)]),
    (re.compile(rf"(\"|')(?={_SQ_PUNCT}(?!\.\.)\B)"), [(_RIGHT, 1)]),
    (re.compile(rf"({_WS}?)\"'(?={_WORD})"), [1, "\u201c", "\u2018"]),
    (re.compile(rf"({_WS}?)'\"(?={_WORD})"), [1, "\u2018", "\u201c"]),
    (re.compile(rf"({_WS}?)'(?=\d\ds)", re.A), [1, "\u2019"]),
    (re.compile(rf"({_WS})('|\")(?={_WORD})"), [1, (_LEFT, 2)]),
    (re.compile(rf"({_SQ_CLOSE})('|\")"), [1, (_RIGHT, 2)]),
    (re.compile(rf"(\"|')(?={_WS}|s\b|$)", re.M | re.A), [(_RIGHT, 1)]),
    (re.compile(r"(.?)'", re.S), [1, "\u2018"]),
    (re.compile(r"(.?)\"", re.S), [1, "\u201c"]),
]
_QUOTES = {(_LEFT, '"'): "\u201c", (_LEFT, "'"): "\u2018", (_RIGHT, '"'): "\u201d", (_RIGHT, "'"): "\u2019"}
_TYPOGRAPHIC_OUT = {
    "---": "\u2014", "--": "\u2013", "...": "\u2026", "\\<<": "&lt;&lt;", "\\>>": "&gt;&gt;",
    "<< ": "\u00ab\u00a0", " >>": "\u00a0\u00bb", "<<": "\u00ab", ">>": "\u00bb",
}
_ENTITIES = dict(html.entities.name2codepoint, apos=39)


def escape_text(text: str) -> str:
    """kramdown's escape_html(:text): ``<>&`` escaped, entity references left alone."""
    return _ESCAPE_TEXT.sub(lambda m: _ESCAPE_MAP.get(m[0], m[0]), text)


def escape_attribute(text: str) -> str:
    return _ESCAPE_ATTRIBUTE.sub(lambda m: _ESCAPE_MAP.get(m[0], m[0]), text)


@dataclass
class _Element:
    """An HTML element as kramdown's raw HTML parser keeps it (block HTML: content model raw)."""

    name: str
    attrs: dict[str, str]
    closed: bool = False
    children: list[object] = field(default_factory=list)


@dataclass
class _Verbatim:
    """A comment, processing instruction or script body: output exactly as written."""

    text: str


def _attributes(text: str, known: bool) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(text):
        name = match[1].lower() if known else match[1]
        attrs[name] = match[2] if match[2] is not None else (match[4] or "")
    return attrs


def _html_attributes(attrs: dict[str, str]) -> str:
    return "".join(
        f' {name}="{escape_attribute(value)}"'
        for name, value in attrs.items()
        if not (name == "id" and not value.strip())
    )


def _element_name(name: str) -> str:
    return name.lower() if name.lower() in _KNOWN_ELEMENTS else name


# ---------------------------------------------------------------------------------------------
# Raw HTML (block level)


def _parse_raw(text: str, pos: int, element: _Element) -> int:
    """Fill ``element`` from raw HTML at ``pos`` until its end tag; return the position after it."""
    while pos < len(text):
        start = _RAW_START.search(text, pos)
        if start is None:
            _add_text(element.children, text[pos:])
            return len(text)
        _add_text(element.children, text[pos : start.start()])
        pos = start.start()
        if match := _COMMENT.match(text, pos):
            element.children.append(_Verbatim(match[0]))
            pos = match.end()
        elif match := _INSTRUCTION.match(text, pos):
            element.children.append(_Verbatim(match[0]))
            pos = match.end()
        elif match := _TAG.match(text, pos):
            child, pos = _start_tag(text, match)
            element.children.append(child)
        elif match := _TAG_CLOSE.match(text, pos):
            pos = match.end()
            closing = match[1].lower() if element.name in _KNOWN_ELEMENTS else match[1]
            if closing == element.name:
                return pos
            _add_text(element.children, match[0])  # a stray end tag is kept as (escaped) text
        else:
            _add_text(element.children, text[pos])
            pos += 1
    return pos


def _start_tag(text: str, match: re.Match[str]) -> tuple[_Element, int]:
    """An element opened by a start tag inside raw HTML (or at block level), with its body."""
    name = _element_name(match[1])
    element = _Element(name, _attributes(match[2], name in _KNOWN_ELEMENTS))
    element.closed = match[4] is not None or name in _WITHOUT_BODY
    pos = match.end()
    if name in ("script", "style"):
        end = re.compile(rf"</{name}{_WS}*>", re.I).search(text, pos)
        stop = end.start() if end else len(text)
        if stop > pos:
            element.children.append(_Verbatim(text[pos:stop]))
        element.closed = False
        return element, (end.end() if end else len(text))
    if not element.closed:
        pos = _parse_raw(text, pos, element)
    return element, pos


def _add_text(children: list[object], text: str) -> None:
    if not text:
        return
    if children and isinstance(children[-1], str):
        children[-1] += text
    else:
        children.append(text)


def _render_element(element: _Element, indent: int, parent_raw: bool) -> str:
    """kramdown's convert_html_element for a raw element: only a top-level one gets its own line."""
    inner = "".join(_render_child(child, indent + 2) for child in element.children)
    out = "" if parent_raw else " " * indent
    out += f"<{element.name}{_html_attributes(element.attrs)}"
    if element.closed:
        out += " />"
    elif inner:
        out += f">{inner}</{element.name}>"
    elif element.name in _WITHOUT_BODY:
        out += " />"
    else:
        out += f"></{element.name}>"
    return out if parent_raw else out + "\n"


def _render_child(child: object, indent: int) -> str:
    if isinstance(child, str):
        return escape_text(child)
    if isinstance(child, _Verbatim):
        return child.text
    assert isinstance(child, _Element)
    return _render_element(child, indent, parent_raw=True)


# ---------------------------------------------------------------------------------------------
# Spans


class RenderBudgetExceeded(Exception):
    """Rendering took more span-parsing steps than its budget allowed."""


@dataclass
class Budget:
    """Span-parsing steps a rendering may take. Emphasis is parsed as kramdown does, by scanning ahead for
    the closing delimiter from every opening one, so text made of unclosed ``**`` costs the cube of its
    length (300 of them: 17 s); a renderer given text from the network is given a budget."""

    steps: int

    def spend(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise RenderBudgetExceeded


@dataclass
class _Spans:
    """kramdown's span parser over one paragraph's text; ``open`` holds the enclosing a/em/strong/html."""

    text: str
    open: list[str] = field(default_factory=list)
    smarty: bool = False  # only what Jekyll's ``smartify`` filter parses
    budget: Budget | None = None

    def parse(
        self,
        pos: int,
        end: int,
        stop: re.Pattern[str] | None = None,
        raw: bool = False,
        accept: Callable[[int, str], bool] | None = None,
    ) -> tuple[str, int, bool]:
        """HTML for the spans from ``pos`` to ``stop`` (or ``end``): (html, position, stop found).

        ``raw`` parses only HTML tags (an element whose content model is raw); ``accept`` decides
        whether a ``stop`` match really ends the parse, as kramdown's block argument does.
        """
        out: list[str] = []
        text = self.text
        start_re = _SPAN_HTML_START if raw else _SPAN_START
        while pos < end:
            if self.budget is not None:
                self.budget.spend()
            found = [m.start() for m in (start_re.search(text, pos, end), stop and stop.search(text, pos, end)) if m]
            if not found:
                if stop is not None:
                    break
                out.append(escape_text(text[pos:end]))
                return "".join(out), end, False
            at = min(found)
            out.append(escape_text(text[pos:at]))
            pos = at
            if stop is not None and stop.match(text, pos, end) and (accept is None or accept(pos, "".join(out))):
                return "".join(out), pos, True
            piece, pos = self._dispatch(pos, end, raw)
            out.append(piece)
        return "".join(out), pos, False

    def _dispatch(self, pos: int, end: int, raw: bool) -> tuple[str, int]:
        text = self.text
        if raw:
            if _SPAN_HTML_START.match(text, pos, end):
                return self._span_html(pos, end, raw=True)
            return escape_text(text[pos]), pos + 1
        if self.smarty:
            return self._dispatch_smarty(pos, end)
        if _EMPHASIS.match(text, pos, end):
            return self._emphasis(pos, end)
        if _CODESPAN.match(text, pos, end):
            return self._codespan(pos, end)
        if match := _AUTOLINK.match(text, pos, end):
            href = match[1] if match[2] else f"mailto:{match[1]}"
            label = match[1].removeprefix("mailto:")
            return f'<a href="{escape_attribute(href)}">{escape_text(label)}</a>', match.end()
        if _SPAN_HTML_START.match(text, pos, end):
            return self._span_html(pos, end, raw=False)
        if _LINK_START.match(text, pos, end):
            return self._link(pos, end)
        if _SMART_QUOTE_START.match(text, pos, end):
            return self._smart_quote(pos, end)
        if match := _ENTITY.match(text, pos, end):
            return _entity(match), match.end()
        if match := _TYPOGRAPHIC.match(text, pos, end):
            return _TYPOGRAPHIC_OUT[match[0]], match.end()
        if match := _LINE_BREAK.match(text, pos, end):
            return "<br />", match.end()
        if match := _ESCAPED.match(text, pos, end):
            return escape_text(match[1]), match.end()
        if match := _STRIKETHROUGH.match(text, pos, end):
            inner = _Spans(match[0][2:-2], self.open, budget=self.budget).parse(0, len(match[0]) - 4)[0]
            return f"<del>{inner}</del>", match.end()
        if text.startswith("\\\n", pos) and "html" not in self.open:
            return "<br />", pos + 1  # GFM's hard line break, outside HTML elements
        return escape_text(text[pos]), pos + 1

    def _dispatch_smarty(self, pos: int, end: int) -> tuple[str, int]:
        text = self.text
        if _SMART_QUOTE_START.match(text, pos, end):
            return self._smart_quote(pos, end)
        if match := _ENTITY.match(text, pos, end):
            return _entity(match), match.end()
        if match := _TYPOGRAPHIC.match(text, pos, end):
            return _TYPOGRAPHIC_OUT[match[0]], match.end()
        if _SPAN_HTML_START.match(text, pos, end):
            return self._span_html(pos, end, raw=False)
        return escape_text(text[pos]), pos + 1

    def _emphasis(self, pos: int, end: int) -> tuple[str, int]:
        text = self.text
        delim = _EMPHASIS.match(text, pos, end)[0]  # type: ignore[index]
        kind = "strong" if len(delim) == 2 else "em"
        char = delim[0]
        after = pos + len(delim)
        alpha_before = pos > 0 and (
            _is_alpha(text[pos - 1]) or (text[pos - 1] == "-" and pos > 1 and _is_alpha(text[pos - 2]))
        )
        if (char == "_" and alpha_before) or (after < end and text[after] in _WS_CHARS) or kind in self.open:
            return escape_text(delim), after
        found, inner, stop_end = self._emphasis_body(after, end, delim, kind, char)
        if not found and kind == "strong" and (not self.open or self.open[-1] != "em"):
            # kramdown retries as <em> one character on, dropping the first delimiter character
            kind = "em"
            found, inner, stop_end = self._emphasis_body(pos + 1, end, char, kind, char)
        if not found:
            return escape_text(delim), after
        return f"<{kind}>{inner}</{kind}>", stop_end

    def _emphasis_body(self, pos: int, end: int, delim: str, kind: str, char: str) -> tuple[bool, str, int]:
        text = self.text
        stop = re.compile(re.escape(delim))
        double = re.compile(f"{re.escape(delim * 2)}(?!{re.escape(delim)})")
        followed = re.compile(rf"{re.escape(delim)}[^\W_]")

        def accept(at: int, so_far: str) -> bool:
            return (
                text[at - 1] not in _WS_CHARS
                and (kind != "em" or not double.match(text, at, end))
                and (char != "_" or not followed.match(text, at, end))
                and so_far != ""
            )

        self.open.append(kind)
        inner, at, found = self.parse(pos, end, stop, accept=accept)
        self.open.pop()
        return found, inner, at + len(delim)

    def _codespan(self, pos: int, end: int) -> tuple[str, int]:
        text = self.text
        delim = _CODESPAN.match(text, pos, end)[0]  # type: ignore[index]
        after = pos + len(delim)
        simple = len(delim) == 1
        if simple and (pos == 0 or text[pos - 1] in _WS_CHARS) and after < end and text[after] in _WS_CHARS:
            return delim, after
        close = text.find(delim, after, end)
        if close == -1:
            return delim, after
        code = text[after:close]
        if not simple:
            code = code.removeprefix(" ").removesuffix(" ")
        # Jekyll highlights code spans with Rouge, which guesses plain text for these bodies.
        escaped = code.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<code class="language-plaintext highlighter-rouge">{escaped}</code>', close + len(delim)

    def _span_html(self, pos: int, end: int, raw: bool) -> tuple[str, int]:
        text = self.text
        if match := _COMMENT.match(text, pos, end):
            return match[0], match.end()
        if match := _TAG_CLOSE.match(text, pos, end):
            return escape_text(match[0]), match.end()  # an end tag without its start: text
        match = _TAG.match(text, pos, end)
        if match is None:
            return escape_text(text[pos]), pos + 1
        name = _element_name(match[1])
        if name in _BLOCK_ELEMENTS:
            return escape_text(match[0]), match.end()
        known = name in _KNOWN_ELEMENTS
        attrs = {k: re.sub(r"\n+", " ", v) for k, v in _attributes(match[2], known).items()}
        pos = match.end()
        inner = ""
        if match[4] is None and name not in _WITHOUT_BODY:
            stop = re.compile(rf"</{re.escape(name)}{_WS}*>", re.I if known else 0)
            self.open.append("html")
            # Only elements whose content model is block or span have their content parsed.
            content_raw = raw or name not in _CONTENT_BLOCK | _CONTENT_SPAN
            inner, pos, found = self.parse(pos, end, stop, raw=content_raw)
            self.open.pop()
            if found:
                pos = stop.match(text, pos, end).end()  # type: ignore[union-attr]
            else:
                inner += escape_text(text[pos:end])
                pos = end
        if not inner and name in _WITHOUT_BODY:
            return f"<{name}{_html_attributes(attrs)} />", pos
        return f"<{name}{_html_attributes(attrs)}>{inner}</{name}>", pos

    def _link(self, pos: int, end: int) -> tuple[str, int]:
        text = self.text
        opener = _LINK_START.match(text, pos, end)
        assert opener is not None
        image = opener[0].startswith("!")
        if not image and "a" in self.open:
            return escape_text(opener[0]), opener.end()
        label_start = opener.end()
        close = _matching_bracket(text, label_start, end)
        if close is None or not text.startswith("(", close + 1):
            return escape_text(opener[0]), opener.end()
        parsed = _inline_target(text, close + 1, end)
        if parsed is None:
            return escape_text(opener[0]), opener.end()
        url, title, after = parsed
        title_attr = "" if title is None else f' title="{escape_attribute(title)}"'
        if image:
            alt = _ESCAPED.sub(r"\1", text[label_start:close])
            return f'<img src="{escape_attribute(url)}" alt="{escape_attribute(alt)}"{title_attr} />', after
        self.open.append("a")
        label = self.parse(label_start, close)[0]
        self.open.pop()
        return f'<a href="{escape_attribute(url)}"{title_attr}>{label}</a>', after

    def _smart_quote(self, pos: int, end: int) -> tuple[str, int]:
        for pattern, substitutions in _SQ_RULES:
            match = pattern.match(self.text, pos, end)
            if match is None:
                continue
            out = []
            for item in substitutions:
                if isinstance(item, int):
                    out.append(escape_text(match[item]))
                elif isinstance(item, tuple):
                    out.append(_QUOTES[(item[0], match[item[1]])])
                else:
                    out.append(str(item))
            return "".join(out), match.end()
        return escape_text(self.text[pos]), pos + 1


def _is_alpha(char: str) -> bool:
    return char.isalpha()


def _matching_bracket(text: str, pos: int, end: int) -> int | None:
    depth = 1
    while pos < end:
        char = text[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    return None


def _inline_target(text: str, pos: int, end: int) -> tuple[str, str | None, int] | None:
    """kramdown's inline link target at the ``(``: (url, title, position after the ``)``)."""
    if match := _LINK_ANGLE_URL.match(text, pos, end):
        url, pos = match[1], match.end()
        if text.startswith(")", pos):
            return url, None, pos + 1
    else:
        collected, depth, scan = "", 0, pos
        while match := _LINK_PAREN_STOP.search(text, scan, end):
            collected += text[scan : match.end()]
            scan = match.end()
            if match[2]:
                depth -= 1
                if depth == 0:
                    break
            elif match[1]:
                depth += 1
            else:
                break
        url, pos = collected[1:-1].strip(" \t\n\v\f\r\0"), scan
        if depth == 0:
            return url, None, pos
    if match := _LINK_TITLE.match(text, pos, end):
        return url, match[2], match.end()
    return None


def _entity(match: re.Match[str]) -> str:
    if match[1] is not None:
        code = _ENTITIES.get(match[1])
        if code is None:  # kramdown: an unknown entity is an escaped '&' and text
            return "&amp;" + escape_text(match[0][1:])
    else:
        code = int(match[2]) if match[2] is not None else int(match[3], 16)
        if code > 0x10FFFF:
            return "&amp;" + escape_text(match[0][1:])
    char = chr(code)
    return match[0] if char in "<>&" else char


def smartify(text: str) -> str:
    """Jekyll's ``smartify`` filter on a one-line string: smart quotes, dashes, entities, escaping."""
    return _Spans(text, smarty=True).parse(0, len(text))[0]


def spans_to_html(text: str, budget: Budget | None = None) -> str:
    """kramdown's span-level conversion of one paragraph's text (RenderBudgetExceeded past ``budget``)."""
    return _Spans(text, budget=budget).parse(0, len(text))[0]


# ---------------------------------------------------------------------------------------------
# Blocks


@dataclass
class _Paragraph:
    text: str


@dataclass
class _Blank:
    pass


@dataclass
class _Blockquote:
    children: list[object]


@dataclass
class _Rule:
    pass


def _parse_blocks(text: str) -> list[object]:
    blocks: list[object] = []
    pos = 0
    while pos < len(text):
        if match := _BLANK.match(text, pos):
            if not (blocks and isinstance(blocks[-1], _Blank)):
                blocks.append(_Blank())
            pos = match.end()
        elif _BLOCKQUOTE_START.match(text, pos):
            pos = _blockquote(text, pos, blocks)
        elif match := _RULE.match(text, pos):
            blocks.append(_Rule())
            pos = match.end()
        elif _HTML_BLOCK_START.match(text, pos) and (parsed := _block_html(text, pos)) is not None:
            node, pos = parsed
            blocks.append(node)
        else:  # kramdown would make a code block of a line indented by four: kept as text here
            pos = _paragraph(text, pos, blocks)
    return blocks


def _blockquote(text: str, pos: int, blocks: list[object]) -> int:
    start = pos
    pos = _LINE.match(text, pos).end()  # type: ignore[union-attr]
    while not _LAZY_END.match(text, pos):
        pos = _LINE.match(text, pos).end()  # type: ignore[union-attr]
    inner = _BLOCKQUOTE_STRIP.sub("", text[start:pos])
    blocks.append(_Blockquote(_parse_blocks(inner)))
    return pos


def _block_html(text: str, pos: int) -> tuple[object, int] | None:
    if match := _COMMENT.match(text, pos):
        end = match.end()
        trailing = _TRAILING_WHITESPACE.match(text, end)
        return _Verbatim(match[0]), (trailing.end() if trailing else end)
    match = _HTML_BLOCK_TAG.match(text, pos)
    if match is None or match[1].lower() in _SPAN_ELEMENTS:
        return None
    element, end = _start_tag(text, match)
    if not element.closed and element.name not in ("script", "style"):
        trailing = _TRAILING_WHITESPACE.match(text, end)
        end = trailing.end() if trailing else end
    return element, end


def _paragraph(text: str, pos: int, blocks: list[object]) -> int:
    start = pos
    pos = _LINE.match(text, pos).end()  # type: ignore[union-attr]
    while not _PARAGRAPH_END.match(text, pos):
        pos = _LINE.match(text, pos).end()  # type: ignore[union-attr]
    content = text[start:pos].rstrip(" \t\n\v\f\r\0")
    if blocks and isinstance(blocks[-1], _Paragraph):
        blocks[-1].text += "\n" + content
    else:
        blocks.append(_Paragraph(content.lstrip(" \t\n\v\f\r\0")))
    return pos


def _render_blocks(blocks: list[object], indent: int, budget: Budget | None) -> str:
    out = []
    for block in blocks:
        if isinstance(block, _Blank):
            out.append("\n")
        elif isinstance(block, _Paragraph):
            out.append(f"{' ' * indent}<p>{spans_to_html(block.text, budget)}</p>\n")
        elif isinstance(block, _Blockquote):
            body = _render_blocks(block.children, indent + 2, budget)
            out.append(f"{' ' * indent}<blockquote>\n{body}{' ' * indent}</blockquote>\n")
        elif isinstance(block, _Rule):
            out.append(f"{' ' * indent}<hr />\n")
        elif isinstance(block, _Verbatim):
            out.append(f"{' ' * indent}{block.text}\n")
        else:
            assert isinstance(block, _Element)
            out.append(_render_element(block, indent, parent_raw=False))
    return "".join(out)


def to_html(source: str, budget: Budget | None = None) -> str:
    """Convert a Markdown document as Jekyll's kramdown does (RenderBudgetExceeded past ``budget``)."""
    text = re.sub(r"\r\n?", "\n", source)
    text = (text[:-1] if text.endswith("\n") else text) + "\n"  # Ruby's chomp, then one newline
    return _render_blocks(_parse_blocks(text), 0, budget)
