"""The one item the archive stores: a post, normalised. Field by field, what each holds."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PostItem:
    """One article, normalised from its post page (and its text from the share host).

    Each field has one home, named after it: ``PostPage.x`` is the ``@field`` method ``x`` of the post page's
    page object (crawler/pages/post.py); ``use_body`` and ``derived_fields`` are in crawler/pages/body.py;
    ``post_item`` and ``take_share_text`` in crawler/record.py, where a record is put together.

    From the post page (``PostPage.<field>``):
      info_code     ``NW`` + 18 digits: the East Money article id, the archive's key; ``site:<name>``
                    for the site's own notices (站长消息), which have no East Money id. Derived by
                    ``crawler.infocode.infocode_of_post``, as every infoCode is in crawler/infocode.py.
      name          the post's file slug: ``NW…`` for outlet posts, the 18 digits for emnews posts.
      title         the headline as the post's front matter holds it (markup and entities kept as text).
      published_at  ISO 8601 in +08:00: the instant the site published (a zone-less original is UTC).
      category      the category slug (``jinwanbao``, ``emnews``), as in ``/category/<slug>.html``.
      tags          the post's tags (``["今晚报新闻"]``).
      kind          ``media`` (outlet post), ``market`` (share link on choicewzp1.eastmoney.com), ``emnews``,
                    ``sitenews`` (a site notice).
      media         the outlet's name from its tag (``今晚报``); None for emnews posts.
      digest        the emnews ``> `` digest line's text, or None.
      share_url     the NewsShare.html link of outlet and market posts, else None.
      article_url   the East Money article link of emnews posts, else None.
      post_url      the post page's URL.
      back_link_lines  the post's back links as its file wrote them (older posts differ; "" for none).
      problems      what could not be read; any problem makes the post a reject (``PostPage.problems``,
                    judged with the rest in ``pipelines.validate.rejection_reasons``).
    From the body, whichever page gave it (``use_body``; ``derived_fields`` for summary and hash):
      body_html     the article body only (no digest, link, back links or tags line), as ``body_origin`` says.
      body_origin   ``share``: the GetNewsText answer, exactly as written; ``page-source``: no share text
                    (see share_status), the page's body turned back into the source it renders from
                    (``crawler.pages.inversion.invert_body``); ``page-html``: the page's HTML, when no
                    source renders back to it.
      body_text     the body's text, one line per block, whitespace collapsed.
      source        the 文章来源 line's text with nested markup stripped (``上海证券报``), or None.
      editor        the editor named in a note such as ``(津云新闻编辑刘颖)`` → ``刘颖``, or None.
      summary       the digest, else the first 120 characters of body_text.
      content_hash  sha256 over the record's content fields; changes when the article changes.
    From the share host (a crawl: ``crawler.sharetext.ShareTexts.fetch``; ``finews share``:
    ``take_share_text``, and ``Archive.record_share_failure`` for a failure):
      share_status  what became of the share text: ``ok``, ``not-fetched``, ``skipped``, ``unreachable``, ``timeout``,
                    ``missing``, ``http-error``, ``invalid``, ``refused`` (crawler/sharestatus.py says each).
      share_detail  the failure in words (``http 500``, ``invalid json: …``); None for ``ok`` and ``not-fetched``.
      share_text    the share host's GetNewsText.do text as answered (``ShareTextPage``), or None.
      share_fetched_at  UTC ISO 8601 of the share-host request that gave share_status; None when none was made.
    Set by whoever read the article (``post_item``, ``take_share_text``; not stored as columns):
      seen_urls     (kind, URL) for every URL this reading saw the article under: ``post``, ``share``,
                    ``article``, ``json`` (the archive's post_urls).
      from_site     False when the record was refreshed from the share host alone (``finews share``):
                    the site did not list it, so its ``last_seen_*`` stay as they were.
      raw_page      the page as received, kept with a reject.
    Set by the dedupe step (pipelines/dedupe.py; not stored as columns):
      change        ``new``, ``updated`` or ``unchanged`` against the archive (``pipelines.archive.change_of``,
                    which the store's ``save_post`` also counts by; a record merged with its twin's is
                    ``merge_routes``'s).
      previous_file the file name the archive held for this infoCode before, if any.

    The decisions about a post, each in one place: skip it as archived or rejected before fetching
    (``Archive.plan_links``); a reject or no verdict (``pipelines.validate``: ``rejection_reasons``, and
    ``crawler.failures.no_verdict`` for a failed download); merge two routes of one article
    (``pipelines.dedupe.merge_routes``); new, updated or unchanged (``pipelines.archive.change_of``);
    its share status (``crawler.sharetext`` for an answer, ``crawler.failures.share_failure`` for a failure).
    """

    post_url: str
    info_code: str | None = None
    name: str = ""
    title: str = ""
    published_at: str | None = None
    category: str = ""
    tags: list[str] = field(default_factory=list)
    kind: str = ""
    media: str | None = None
    source: str | None = None
    editor: str | None = None
    digest: str | None = None
    body_html: str = ""
    body_origin: str = "page-html"
    body_text: str = ""
    summary: str = ""
    share_url: str | None = None
    article_url: str | None = None
    back_link_lines: str = ""
    share_status: str = "not-fetched"
    content_hash: str = ""
    share_text: str | None = None
    share_fetched_at: str | None = None
    share_detail: str | None = None
    seen_urls: list[tuple[str, str]] = field(default_factory=list)
    from_site: bool = True
    change: str = ""
    previous_file: str | None = None
    raw_page: bytes = b""
    problems: list[str] = field(default_factory=list)


@dataclass
class FetchFailure:
    """A post page that could not be fetched or read at all (HTTP error, timeout, not HTML), or was never
    requested (its URL gives no usable name).

    It passes through the pipelines only to be recorded: in ``rejects`` with its reason when the page
    itself caused it (a 404, not HTML, an offsite redirect); when ``transient`` (no answer at all, or an
    answer that says nothing of the page: 5xx, 408, 429) it is no verdict, and the post stays in the
    frontier for the next run, which then does not exit 0.
    """

    post_url: str
    reason: str
    raw_page: bytes = b""
    transient: bool = False
