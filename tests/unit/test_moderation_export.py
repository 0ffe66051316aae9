"""Gradebook exports parsed back against Moodle's and Learn's layouts; missing identifiers list the members."""

import csv
import io
import json
from decimal import Decimal as D

import pytest

from app.moderation.export import ExportError, ExportRow, GradeItem, filename, render

ITEMS = [GradeItem("group", "Group work"), GradeItem("individual", "Individual work", learn_column_id="_4711_1")]
ROWS = [
    ExportRow("Ada Lovelace", "ada@uni.example", "s1234567", "s1234567", {"group": D("68.4"), "individual": D("81.0")},
              D("72.2"), "A", {"group": "Solid artifact, claims C1–C2 reproduced.", "total": "Well done, «Ada»"}),
    ExportRow("Bo, \"Bob\" Ng", "bo@uni.example", "s7654321", "s7654321", {"group": D("55.0"), "individual": None},
              D("38.5"), "E", {}),
]


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_moodle_layout():
    text = render("moodle", ROWS, ITEMS)
    rows = parse(text)
    assert rows[0] == ["ID number", "Email address", "Group work", "Group work (Feedback)", "Individual work",
                       "Individual work (Feedback)", "Total", "Total (Feedback)"]
    assert rows[1] == ["s1234567", "ada@uni.example", "68.4", "Solid artifact, claims C1–C2 reproduced.", "81.0", "",
                       "72.2", "Well done, «Ada»"]
    assert rows[2][4] == "" and rows[2][6] == "38.5"
    assert text.encode("utf-8").decode("utf-8") == text and "\r\n" in text


def test_learn_layout_quotes_everything():
    text = render("learn", ROWS, ITEMS)
    rows = parse(text)
    assert rows[0] == ["Username", "Group work", "Individual work |_4711_1", "Total"]
    assert rows[1] == ["s1234567", "68.4", "81.0", "72.2"]
    assert text.splitlines()[0] == '"Username","Group work","Individual work |_4711_1","Total"'


def test_csv_and_json_carry_everything():
    rows = parse(render("csv", ROWS, ITEMS))
    assert rows[0][:4] == ["Name", "Email address", "ID number", "Username"]
    assert rows[2][0] == 'Bo, "Bob" Ng' and rows[1][rows[0].index("Letter")] == "A"
    data = json.loads(render("json", ROWS, ITEMS))
    assert data["members"][0]["marks"] == {"group": "68.4", "individual": "81.0"}
    assert data["members"][1]["marks"]["individual"] is None and data["members"][0]["total"] == "72.2"


@pytest.mark.parametrize(("fmt", "attr", "cause"), [
    ("moodle", "id_number", "needs each member's ID number; 1 member has none: Ada Lovelace"),
    ("moodle", "email", "email address; 1 member has none: Ada Lovelace"),
    ("learn", "username", "needs each member's username; 1 member has none: Ada Lovelace"),
])
def test_missing_identifier_lists_the_members(fmt, attr, cause):
    broken = ExportRow(**{**ROWS[0].__dict__, attr: None})
    with pytest.raises(ExportError, match=cause):
        render(fmt, [broken, ROWS[1]], ITEMS)


def test_no_rows_or_unknown_format():
    with pytest.raises(ExportError, match="no marks to export"):
        render("moodle", [], ITEMS)
    with pytest.raises(ExportError, match="unknown export format 'xls'"):
        render("xls", ROWS, ITEMS)


def test_filename_marks_drafts():
    assert filename("mlsys-2024", "moodle", draft=False) == "mlsys-2024-marks-moodle.csv"
    assert filename("mlsys-2024", "learn", draft=True) == "mlsys-2024-marks-learn-DRAFT.csv"
    assert filename("../etc/x y", "json", draft=False) == "etc-x-y-marks-json.json"
