"""The stored page-object fixtures (tests/fixtures) are what the replica and the page objects give today.

web-poet's pytest plugin runs each fixture's ``output.json`` against the page object (one test per field);
these tests check the other half: that the stored inputs are still what the replica renders, so that a
change of the replica, or a page object changed without regenerating, is noticed here with the field named.
"""

from __future__ import annotations

import json

from web_poet.utils import get_fq_class_name

from tests.fixtures.cases import all_cases
from tests.fixtures.regenerate import FIXTURES, check, differences, main


def test_fixtures_are_up_to_date_with_the_replica_and_the_page_objects():
    assert check() == [], "run python -m tests.fixtures.regenerate --check, then regenerate if deliberate"


def test_every_fixture_case_is_stored_with_its_inputs_and_expected_output():
    for case in all_cases():
        stored = FIXTURES / get_fq_class_name(case.page_cls) / case.name
        assert (stored / "output.json").is_file(), stored
        assert sorted(p.name for p in (stored / "inputs").iterdir()) == ["HttpResponse-body.html",
                                                                        "HttpResponse-info.json"], stored


def test_fixture_check_names_the_fields_that_differ(tmp_path, capsys):
    page_dir = "crawler.pages.post.PostPage"
    for root in ("stored", "fresh"):
        case = tmp_path / root / page_dir / "outlet"
        (case / "inputs").mkdir(parents=True)
        (case / "inputs" / "HttpResponse-body.html").write_bytes(b"<html>" if root == "stored" else b"<html>!")
        output = {"title": "旧标题", "tags": ["a"], "gone": 1} if root == "stored" else {"title": "新标题", "tags": ["a"], "new": 1}
        (case / "output.json").write_text(json.dumps(output, ensure_ascii=False), encoding="utf-8")
    assert differences(tmp_path / "stored", tmp_path / "fresh", [page_dir]) == [
        f"{page_dir}/outlet: inputs/HttpResponse-body.html differs (6 bytes stored, 7 now)",
        f"{page_dir}/outlet: output field 'gone' is no longer given (stored 1)",
        f"{page_dir}/outlet: output field 'new' is new: 1",
        f"{page_dir}/outlet: output field 'title': stored \"旧标题\", now \"新标题\"",
    ]


def test_fixture_check_exits_0_when_up_to_date(capsys):
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == f"{len(all_cases())} fixtures up to date\n"
