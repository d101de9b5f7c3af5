"""The share host's GetNewsText.do answer → ``ShareText``: ``{"text": BODY}`` (older: ``{"content": BODY}``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from web_poet import WebPage
from web_poet import field as page_field
from web_poet.utils import cached_method


class ShareTextError(ValueError):
    """An answer that holds no usable article text."""


@dataclass
class ShareText:
    """What a GetNewsText.do answer holds: each of its two text fields when it is a usable string (not
    blank), and why the answer is unusable when it is not a JSON object."""

    text: str | None = None
    content: str | None = None
    problem: str | None = None

    def body(self, *, emnews: bool) -> str:
        """The body as the generator wrote it: emnews posts were written from ``content``, others from
        ``text``; ShareTextError when the answer holds neither."""
        if self.problem:
            raise ShareTextError(self.problem)
        first, second = (self.content, self.text) if emnews else (self.text, self.content)
        body = first if first is not None else second
        if body is None:
            raise ShareTextError("no text: neither 'text' nor 'content' holds a string")
        return body


class ShareTextPage(WebPage[ShareText]):
    """A GetNewsText.do answer, read as JSON whatever its Content-Type says."""

    @cached_method
    def _object(self) -> tuple[dict[str, Any], str | None]:
        try:
            data = json.loads(bytes(self.response.body))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return {}, f"invalid json: {error}"
        if not isinstance(data, dict):
            return {}, "invalid json: not an object"
        return data, None

    def _usable(self, key: str) -> str | None:
        value = self._object()[0].get(key)
        return value if isinstance(value, str) and value.strip() else None

    @page_field
    def text(self) -> str | None:
        return self._usable("text")

    @page_field
    def content(self) -> str | None:
        return self._usable("content")

    @page_field
    def problem(self) -> str | None:
        return self._object()[1]

    def share_text(self, *, emnews: bool) -> str:
        """The exact body this answer gives a post (``ShareText.body``), read without awaiting ``to_item``."""
        return ShareText(self.text, self.content, self.problem).body(emnews=emnews)
