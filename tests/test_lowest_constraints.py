"""scripts/lowest_constraints.py: every declared dependency pinned at its floor, read from pyproject.toml."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "lowest_constraints.py"

_spec = importlib.util.spec_from_file_location("lowest_constraints", SCRIPT)
assert _spec and _spec.loader
lowest_constraints = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lowest_constraints)


def test_each_runtime_and_test_dependency_is_pinned_at_its_floor_as_packaging_reads_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["test"]]
    expected = {
        f"{canonicalize_name(requirement.name)}=={spec.version}"
        for requirement in declared for spec in requirement.specifier if spec.operator == ">="
    }
    output = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True).stdout
    lines = [line for line in output.splitlines() if not line.startswith("#")]
    assert sorted(lines) == sorted(expected)
    assert len(lines) == len({canonicalize_name(requirement.name) for requirement in declared})


@pytest.mark.parametrize(("requirement", "pin"), [
    ("datasette>=0.65,<1", ("datasette", "0.65")),
    ("PyYAML>=6.0", ("pyyaml", "6.0")),
    ("Web_Poet[extra] >= 0.17 ; python_version >= '3.11'", ("web-poet", "0.17")),
])
def test_a_floor_is_read_with_extras_markers_and_caps(requirement: str, pin: tuple[str, str]) -> None:
    assert lowest_constraints.floor(requirement) == pin


@pytest.mark.parametrize("requirement", ["scrapy", "scrapy<3", "scrapy==2.18", "scrapy>2.18", "scrapy>=2.18,>=2.19"])
def test_a_dependency_without_one_floor_is_refused(requirement: str) -> None:
    with pytest.raises(ValueError, match="no single '>=' floor"):
        lowest_constraints.floor(requirement)


def test_two_floors_for_one_name_are_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["psutil>=6.0"]\n[project.optional-dependencies]\n'
                         'test = ["psutil>=5.9"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="psutil is declared with two floors"):
        lowest_constraints.lowest_constraints(pyproject)
