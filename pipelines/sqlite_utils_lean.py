"""sqlite-utils, imported without pandas and numpy.

sqlite-utils imports pandas and numpy whenever they are installed, only to map their value types to
column types; the archive never stores such values. Where numpy is installed (this benchmark machine has
it, for scipy), it was 11 MB of every crawl and worker process and 0.1 s of each start (BENCHMARKS.md).
They are hidden from that one import only: code that imports them later gets them as usual.

It is imported when first used, not when this module is: the commands that only read the archive use
sqlite3 alone, and sqlite-utils was 45 ms of their start (BENCHMARKS.md, Start-up of the fast commands).
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

_UNUSED_BY_THE_ARCHIVE = ("numpy", "pandas")


def _import_sqlite_utils() -> ModuleType:
    if "sqlite_utils" in sys.modules:
        return sys.modules["sqlite_utils"]
    hidden = [name for name in _UNUSED_BY_THE_ARCHIVE if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # None in sys.modules makes an import fail
    try:
        import sqlite_utils
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return sqlite_utils


class _ImportedOnFirstUse(ModuleType):
    """Stands for sqlite_utils: the first name looked up on it imports sqlite-utils (as above)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_import_sqlite_utils(), name)


if TYPE_CHECKING:  # the same module, with its types (sqlite_utils.Database in annotations)
    import sqlite_utils
else:
    sqlite_utils = _ImportedOnFirstUse("sqlite_utils")
