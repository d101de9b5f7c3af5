"""Twisted's global reactor, typed as what it is.

Twisted declares ``twisted.internet.reactor`` as a zope interface, which mypy reads right only through the
mypy-zope plugin (without it, each method's first argument is taken for ``self``). Every reactor Scrapy
installs derives from ``ReactorBase``, which mypy reads as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from twisted.internet.base import ReactorBase


def global_reactor() -> ReactorBase:
    # Imported when called: importing the reactor installs Twisted's default one, before Scrapy picks its own.
    from twisted.internet import reactor

    return cast("ReactorBase", reactor)
