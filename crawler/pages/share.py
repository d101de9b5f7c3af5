"""The share host's GetNewsText.do answer: ``{"text": BODY}`` (older: ``{"content": BODY}``)."""

from __future__ import annotations

import json


class ShareTextError(ValueError):
    """An answer that holds no usable article text."""


def share_text_from_json(body: bytes, *, emnews: bool) -> str:
    """The body as the generator wrote it; emnews posts were written from ``content``, others from ``text``."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ShareTextError(f"invalid json: {error}") from None
    if not isinstance(data, dict):
        raise ShareTextError("invalid json: not an object")
    keys = ("content", "text") if emnews else ("text", "content")
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
    raise ShareTextError("no text: neither 'text' nor 'content' holds a string")
