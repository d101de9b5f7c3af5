"""Page objects: what each kind of page says, one class per page kind, one ``@field`` per field.

web-poet's ``WebPage`` over a ``web_poet.HttpResponse``: pure functions of the page, with no engine, no
archive and no network, so that each is tested against stored pages with the expected item beside them
(tests/fixtures, ``python -m tests.fixtures.regenerate``).

- ``post.PostPage``        a post page → ``PostPageItem`` (every field a post page gives).
- ``share.ShareTextPage``  the share host's GetNewsText.do answer → ``ShareText`` (the exact body).
- ``listing.ListingPage``  home, /emnews/, a category page → ``Links`` (posts and category pages).
- ``listing.FeedPage``     the Atom feed → ``Links`` (posts).
- ``body``                 what is read from a body, whichever page gave it (text, source, editor).
- ``kramdown``             kramdown as Jekyll runs it (the replica renders the site with it).
- ``inversion``            a rendered body turned back into its source, kept only when ``kramdown``
                           renders it back to the page.

``from_scrapy.web_response`` turns a spider's response into the ``HttpResponse`` they take, and
``crawler.record.post_item`` puts a post page and its share text together into the archived ``PostItem``.
"""
