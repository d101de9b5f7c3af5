"""The lowest versions pyproject.toml allows, as a pip constraints file: ``name==floor`` a line.

    python3 scripts/lowest_constraints.py > lowest.txt
    pip install -c lowest.txt -e '.[test]'

One line for each runtime dependency and each of the ``test`` extras, read from pyproject.toml's ``>=``
floors, so the file is made from the declarations and never kept by hand (scripts/test_lowest.sh makes
it on each run). A dependency declared without a ``>=`` floor is an error: every floor must be one that
is tested. Transitive dependencies are left to pip.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
EXTRAS = ("test",)

# A PEP 508 requirement without a URL: name, optional [extras], specifiers, optional ; marker.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*?)\s*(?:;.*)?$")


def floor(requirement: str) -> tuple[str, str]:
    """The normalised name and the ``>=`` version of one requirement; ValueError without one."""
    match = _REQUIREMENT.match(requirement)
    if not match:
        raise ValueError(f"not a requirement this script reads: {requirement!r}")
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    floors = [spec[2:].strip() for spec in match.group(2).split(",") if spec.strip().startswith(">=")]
    if len(floors) != 1:
        raise ValueError(f"{requirement!r} has no single '>=' floor")
    return name, floors[0]


def lowest_constraints(pyproject: Path = PYPROJECT) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in EXTRAS:
        requirements += project["optional-dependencies"][extra]
    pins: dict[str, str] = {}
    for requirement in requirements:
        name, version = floor(requirement)
        if pins.setdefault(name, version) != version:
            raise ValueError(f"{name} is declared with two floors: {pins[name]} and {version}")
    return [f"{name}=={version}" for name, version in pins.items()]


def main() -> int:
    try:
        lines = lowest_constraints()
    except ValueError as error:
        print(f"lowest_constraints: {PYPROJECT.name}: {error}", file=sys.stderr)
        return 1
    print("# Made from pyproject.toml by scripts/lowest_constraints.py: do not edit.")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
