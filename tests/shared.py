"""Where the workplace's shared folder is (real posts and pages); tests that read it skip without it."""

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEED = SHARED / "seed" / "2021-12-27-NW202112272226582498.md"
CORPUS = SHARED / "corpus"
RENDERED_SITE = CORPUS / "rendered" / "site"
SEED_PAGE = RENDERED_SITE / "jinwanbao" / "2021" / "12" / "27" / "NW202112272226582498.html"

needs_shared = pytest.mark.skipif(
    not SEED.exists(), reason=f"../shared is absent ({SHARED}): real posts and pages are not available here"
)
