"""Gradebook export, pure: rows of members' marks in, the text of a Moodle, Learn, CSV or JSON file out.

Moodle (Grades → Import → CSV file, grade/import/csv): the import asks which column identifies the user
("Map from") and what it holds ("Map to": ID number, email address, username or user id), then maps every
other column to a grade item, a new grade item, or the feedback of an item (grade_import_mapping_form in
grade/import/csv/grade_import_form.php). Column names follow Moodle's own grade export so that the two
round-trip: identity columns "ID number" and "Email address", one column per grade item named for it, and its
feedback as "<item> (Feedback)" (grade/export/lib.php, format_column_name: '{name} ({extra})' with extra the
string 'Feedback'). UTF-8, comma separated.

Learn (Blackboard Grade Center, Work Offline → Upload): the unique identifier of a student is the "Username"
column; a column whose header ends in " |<Column ID>" updates that Grade Center column, any other header
creates a new column named for it; comma-delimited data must be enclosed in quote characters (Blackboard
help, "Uploading or Downloading Grade Center Items for Working Offline").
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

FORMATS = ("moodle", "learn", "csv", "json")
FEEDBACK_SUFFIX = " (Feedback)"  # Moodle's export names feedback columns "<item> (Feedback)"
TOTAL = "Total"


class ExportError(ValueError):
    """An export that cannot be written: the message names the cause (and lists the members concerned)."""


@dataclass(frozen=True)
class GradeItem:
    """A column of the gradebook: a component of the scheme, or the total."""

    key: str
    name: str
    learn_column_id: str | None = None  # the Grade Center Column ID, to update an existing column


@dataclass(frozen=True)
class ExportRow:
    """One member's released (or draft) marks with the identifiers gradebooks match on."""

    name: str
    email: str | None = None
    id_number: str | None = None  # the roster's student number ("ID number" in Moodle)
    username: str | None = None  # the institution login ("Username" in Learn)
    marks: Mapping[str, Decimal | float | None] = field(default_factory=dict)  # item key -> mark
    total: Decimal | float | None = None
    letter: str | None = None
    feedback: Mapping[str, str] = field(default_factory=dict)  # item key (or "total") -> text


def _num(value: Decimal | float | None) -> str:
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else f"{value:g}"


def _missing(rows: Sequence[ExportRow], attr: str, label: str, fmt: str) -> None:
    lacking = [r.name for r in rows if not (getattr(r, attr) or "").strip()]
    if lacking:
        raise ExportError(f"the {fmt} export needs each member's {label}; {len(lacking)} member"
                          f"{'s have' if len(lacking) != 1 else ' has'} none: {', '.join(lacking)}")


def _check(rows: Sequence[ExportRow], items: Sequence[GradeItem]) -> None:
    if not rows:
        raise ExportError("no marks to export: no member has a mark yet")
    if not items:
        raise ExportError("no grade items to export: the marking scheme has no components")


def _write(header: list[str], body: list[list[str]], quote_all: bool = False) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    w.writerow(header)
    w.writerows(body)
    return buf.getvalue()


def moodle(rows: Sequence[ExportRow], items: Sequence[GradeItem], *, total_name: str = TOTAL) -> str:
    """Moodle's CSV grade import layout: ID number, Email address, then each item and the total with feedback."""
    _check(rows, items)
    _missing(rows, "id_number", "ID number", "Moodle")
    _missing(rows, "email", "email address", "Moodle")
    header = ["ID number", "Email address"]
    for it in items:
        header += [it.name, it.name + FEEDBACK_SUFFIX]
    header += [total_name, total_name + FEEDBACK_SUFFIX]
    body = []
    for r in rows:
        line = [r.id_number.strip(), r.email.strip()]
        for it in items:
            line += [_num(r.marks.get(it.key)), r.feedback.get(it.key, "")]
        line += [_num(r.total), r.feedback.get("total", "")]
        body.append(line)
    return _write(header, body)


def learn(rows: Sequence[ExportRow], items: Sequence[GradeItem], *, total_name: str = TOTAL,
          total_column_id: str | None = None) -> str:
    """Blackboard Learn's Work Offline upload: Username, then a column per grade item (and the total)."""
    _check(rows, items)
    _missing(rows, "username", "username", "Learn")

    def head(name: str, column_id: str | None) -> str:
        return f"{name} |{column_id}" if column_id else name

    header = ["Username"] + [head(it.name, it.learn_column_id) for it in items] + [head(total_name, total_column_id)]
    body = [[r.username.strip()] + [_num(r.marks.get(it.key)) for it in items] + [_num(r.total)] for r in rows]
    return _write(header, body, quote_all=True)


def plain_csv(rows: Sequence[ExportRow], items: Sequence[GradeItem]) -> str:
    """Every identifier, each item's mark and feedback, the total and letter: for spreadsheets."""
    _check(rows, items)
    header = ["Name", "Email address", "ID number", "Username"]
    for it in items:
        header += [it.name, it.name + FEEDBACK_SUFFIX]
    header += [TOTAL, "Letter", TOTAL + FEEDBACK_SUFFIX]
    body = []
    for r in rows:
        line = [r.name, r.email or "", r.id_number or "", r.username or ""]
        for it in items:
            line += [_num(r.marks.get(it.key)), r.feedback.get(it.key, "")]
        line += [_num(r.total), r.letter or "", r.feedback.get("total", "")]
        body.append(line)
    return _write(header, body)


def as_json(rows: Sequence[ExportRow], items: Sequence[GradeItem]) -> str:
    """The same content as JSON; marks as strings of their decimals, so nothing is lost to floats."""
    _check(rows, items)
    data = {"items": [{"key": it.key, "name": it.name} for it in items],
            "members": [{"name": r.name, "email": r.email, "id_number": r.id_number, "username": r.username,
                         "marks": {it.key: _num(r.marks.get(it.key)) or None for it in items},
                         "total": _num(r.total) or None, "letter": r.letter,
                         "feedback": dict(r.feedback)} for r in rows]}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render(fmt: str, rows: Sequence[ExportRow], items: Sequence[GradeItem], **options: str | None) -> str:
    """The export in one of FORMATS; ExportError naming the cause, nothing written."""
    if fmt == "moodle":
        return moodle(rows, items, **options)
    if fmt == "learn":
        return learn(rows, items, **options)
    if fmt == "csv":
        return plain_csv(rows, items)
    if fmt == "json":
        return as_json(rows, items)
    raise ExportError(f"unknown export format '{fmt}': choose one of {', '.join(FORMATS)}")


def filename(venue_slug: str, fmt: str, draft: bool) -> str:
    """The download's file name; a draft export (marks not released) says so in its name."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}': choose one of {', '.join(FORMATS)}")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", venue_slug).strip("-.") or "venue"
    ext = "json" if fmt == "json" else "csv"
    return f"{slug}-marks-{fmt}{'-DRAFT' if draft else ''}.{ext}"
