"""``posts.share_status``: what became of an article's share text, as one of a few fixed values.

A fixed set, so that ``GROUP BY share_status`` says how an outage went (a free text with the breaker's
counter in it gave a value per post); the words of each failure go in ``share_detail``. Kept free of
Scrapy imports: the schema's documentation (pipelines/schema.py) is built from ``SHARE_STATUSES``.
"""

from __future__ import annotations

OK = "ok"
NOT_FETCHED = "not-fetched"
SKIPPED = "skipped"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
MISSING = "missing"
HTTP_ERROR = "http-error"
INVALID = "invalid"
REFUSED = "refused"

# Value: meaning, in the order docs/schema.md lists them.
SHARE_STATUSES: dict[str, str] = {
    OK: "the text was fetched (share_text holds it)",
    NOT_FETCHED: "never asked for (the share host not followed, or no infoCode to ask with)",
    SKIPPED: "not asked: the share host had stopped answering earlier in that run (its breaker opened)",
    UNREACHABLE: "asked, no answer: connection refused or closed, host not found",
    TIMEOUT: "asked, no answer within FINEWS_SHARE_TIMEOUT",
    MISSING: "the share host answered 404 or 410: it holds no text for this infoCode",
    HTTP_ERROR: "the share host answered another error status (5xx, 403, a 429 it kept giving…)",
    INVALID: "the share host answered 200 without a usable text (invalid JSON, no text field)",
    REFUSED: "not fetched by a rule of this crawler: robots.txt, a redirect off the host, an answer too large",
}
# The statuses that say the share host itself failed, not the article: in a share run that ends with the
# breaker open, these are the texts the outage cost (reported in one line, not one per article).
HOST_FAILURES = frozenset((SKIPPED, UNREACHABLE, TIMEOUT, HTTP_ERROR))
MISSING_STATUSES = frozenset((404, 410))


def status_of_answer(status: int) -> str:
    """The share status of an error answer (``status`` not 2xx)."""
    return MISSING if status in MISSING_STATUSES else HTTP_ERROR


def described_values() -> str:
    """The values and their meanings, for the column's documentation."""
    return "; ".join(f"`{value}`: {meaning}" for value, meaning in SHARE_STATUSES.items())
