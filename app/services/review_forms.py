"""Review forms: the venue's ordered fields, the default NeurIPS-style + code form, and answer validation.

A field is a dict: ``id`` (slug), ``label``, ``type`` (``score`` | ``text`` | ``checkbox``), ``required``,
``help``, ``section`` (``paper`` | ``code`` | ``other``), ``visibility`` (who besides chairs reads it:
``authors`` — authors and reviewers —, ``reviewers``, or ``chairs``), for text ``min_length``/``max_length``,
for scores ``scale``: a list of ``[value, label]`` pairs.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from sqlmodel import Session, select

from app.errors import BadInput, Conflict
from app.models import Review, ReviewForm, ReviewStatus, User, Venue
from app.models.base import utcnow
from app.services import audit

FIELD_TYPES = ("score", "text", "checkbox")
VISIBILITIES = ("authors", "reviewers", "chairs")
SECTIONS = ("paper", "code", "other")
TEXT_MAX = 20_000          # characters in one text answer (a long NeurIPS review is ~6 000)
FIELDS_MAX = 40
_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _scale(*labels: str, start: int = 1) -> list[list]:
    return [[start + i, label] for i, label in enumerate(labels)]


FOUR = _scale("1: poor", "2: fair", "3: good", "4: excellent")

DEFAULT_FORM: list[dict[str, Any]] = [
    {"id": "summary", "label": "Summary", "type": "text", "section": "paper", "required": True, "min_length": 50,
     "help": "What the paper claims and does, in your own words. The authors should recognise their work."},
    {"id": "strengths", "label": "Strengths", "type": "text", "section": "paper", "required": True,
     "min_length": 30, "help": "What is good: originality, quality, clarity, significance."},
    {"id": "weaknesses", "label": "Weaknesses", "type": "text", "section": "paper", "required": True,
     "min_length": 30, "help": "What is missing or wrong, with concrete suggestions."},
    {"id": "soundness", "label": "Soundness", "type": "score", "section": "paper", "required": True,
     "scale": FOUR, "help": "Are the claims supported by the experiments and the reasoning?"},
    {"id": "presentation", "label": "Presentation", "type": "score", "section": "paper", "required": True,
     "scale": FOUR, "help": "Is it clearly written and well organised?"},
    {"id": "contribution", "label": "Contribution", "type": "score", "section": "paper", "required": True,
     "scale": FOUR, "help": "How much does it add to what the course covered?"},
    {"id": "runs_from_readme", "label": "Does the repository run from its README?", "type": "score",
     "section": "code", "required": True,
     "scale": _scale("1: no, it does not run", "2: only after fixes I had to work out",
                     "3: yes, with small gaps in the instructions", "4: yes, exactly as documented"),
     "help": "Follow the README (and look at the artifact's runs on the rigs)."},
    {"id": "reproducible", "label": "Are the paper's experiments reproducible from it?", "type": "score",
     "section": "code", "required": True,
     "scale": _scale("1: no", "2: some of them", "3: most of them", "4: all the claims I checked"),
     "help": "Compare the claimed numbers with the measured ones in the runs."},
    {"id": "code_quality", "label": "Code quality", "type": "score", "section": "code", "required": True,
     "scale": FOUR, "help": "Structure, readability, tests."},
    {"id": "documentation_quality", "label": "Documentation quality", "type": "score", "section": "code",
     "required": True, "scale": FOUR, "help": "README, comments, how to run the experiments."},
    {"id": "code_review", "label": "Code and documentation review", "type": "text", "section": "code",
     "required": True, "min_length": 30,
     "help": "What you ran, what happened, what you read in the code. Refer to the runs where useful."},
    {"id": "questions", "label": "Questions for the authors", "type": "text", "section": "other",
     "required": False, "help": "Answers could change your evaluation."},
    {"id": "overall", "label": "Overall", "type": "score", "section": "other", "required": True,
     "scale": _scale("1: very strong reject", "2: strong reject", "3: reject", "4: borderline reject",
                     "5: borderline accept", "6: weak accept", "7: accept", "8: strong accept",
                     "9: very strong accept", "10: award quality")},
    {"id": "confidence", "label": "Confidence", "type": "score", "section": "other", "required": True,
     "scale": _scale("1: an educated guess", "2: willing to defend, but unsure of parts",
                     "3: fairly confident", "4: confident", "5: absolutely certain")},
    {"id": "confidential", "label": "Confidential comments to the chair", "type": "text", "section": "other",
     "required": False, "visibility": "chairs", "help": "Only the lecturers and TAs read this."},
]


def _normalise(field: dict[str, Any]) -> dict[str, Any]:
    out = dict(field)
    out.setdefault("required", False)
    out.setdefault("help", "")
    out.setdefault("section", "other")
    out.setdefault("visibility", "authors")
    if out.get("type") == "text":
        out.setdefault("min_length", 0)
        out.setdefault("max_length", TEXT_MAX)
    return out


def default_fields() -> list[dict[str, Any]]:
    return [_normalise(f) for f in copy.deepcopy(DEFAULT_FORM)]


def validate_fields(fields: Any) -> list[dict[str, Any]]:
    """A chair's form definition, checked field by field; raises BadInput listing every problem."""
    if not isinstance(fields, list) or not fields:
        raise BadInput("A review form is a non-empty list of fields.")
    if len(fields) > FIELDS_MAX:
        raise BadInput(f"A review form has at most {FIELDS_MAX} fields.")
    problems: list[str] = []
    seen: set[str] = set()
    out = []
    for n, field in enumerate(fields, start=1):
        where = f"field {n}"
        if not isinstance(field, dict):
            problems.append(f"{where}: must be an object")
            continue
        unknown = set(field) - {"id", "label", "type", "required", "help", "section", "visibility", "min_length",
                                "max_length", "scale"}
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        fid = field.get("id")
        if not isinstance(fid, str) or not _ID.match(fid):
            problems.append(f"{where}: id must be lowercase letters, digits and _ (starting with a letter)")
        elif fid in seen:
            problems.append(f"{where}: id {fid!r} is used twice")
        else:
            seen.add(fid)
            where = f"field {n} ({fid})"
        if not isinstance(field.get("label"), str) or not field.get("label", "").strip():
            problems.append(f"{where}: needs a label")
        ftype = field.get("type")
        if ftype not in FIELD_TYPES:
            problems.append(f"{where}: type must be one of {', '.join(FIELD_TYPES)}")
        if field.get("visibility", "authors") not in VISIBILITIES:
            problems.append(f"{where}: visibility must be one of {', '.join(VISIBILITIES)}")
        if field.get("section", "other") not in SECTIONS:
            problems.append(f"{where}: section must be one of {', '.join(SECTIONS)}")
        if not isinstance(field.get("required", False), bool):
            problems.append(f"{where}: required must be true or false")
        if ftype == "score":
            scale = field.get("scale")
            ok = isinstance(scale, list) and len(scale) >= 2 and all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) and not isinstance(p[0], bool)
                and isinstance(p[1], str) for p in scale)
            if not ok:
                problems.append(f"{where}: a score needs a scale of at least two [value, label] pairs")
            elif len({p[0] for p in scale}) != len(scale):
                problems.append(f"{where}: the scale repeats a value")
        if ftype == "text":
            lo, hi = field.get("min_length", 0), field.get("max_length", TEXT_MAX)
            if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi <= TEXT_MAX):
                problems.append(f"{where}: need 0 <= min_length <= max_length <= {TEXT_MAX}")
        out.append(_normalise(field))
    if problems:
        raise BadInput("The review form has problems: " + "; ".join(problems), details=problems)
    return out


def get_fields(session: Session, venue: Venue) -> list[dict[str, Any]]:
    row = session.exec(select(ReviewForm).where(ReviewForm.venue_id == venue.id)).first()
    return [_normalise(f) for f in row.fields] if row else default_fields()


def set_fields(session: Session, actor: User, venue: Venue, fields: Any) -> list[dict[str, Any]]:
    """Replace the venue's form; refused once a review was submitted (their answers follow the old fields)."""
    checked = validate_fields(fields)
    submitted = session.exec(select(Review.id).where(Review.venue_id == venue.id,
                                                     Review.status == ReviewStatus.submitted.value)).first()
    if submitted is not None:
        raise Conflict("Reviews have already been submitted with the current form: it can no longer change.")
    row = session.exec(select(ReviewForm).where(ReviewForm.venue_id == venue.id)).first()
    if row is None:
        row = ReviewForm(venue_id=venue.id, fields=checked, updated_by=actor.id)
    else:
        row.fields, row.updated_by, row.updated_at = checked, actor.id, utcnow()
    session.add(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="review_form.set",
                 summary=f"review form set ({len(checked)} fields)", data={"fields": [f["id"] for f in checked]})
    return checked


def validate_answers(fields: list[dict[str, Any]], answers: Any, *, final: bool) -> dict[str, Any]:
    """Answers checked against the form; `final` (submitting) also demands required fields and minimum lengths.

    Drafts may be incomplete but never malformed: unknown fields, out-of-range scores and over-long texts
    are refused for drafts too. Raises BadInput with one problem per field in ``details``.
    """
    if not isinstance(answers, dict):
        raise BadInput("Answers must be an object of field id -> value.")
    by_id = {f["id"]: f for f in fields}
    problems: list[dict[str, str]] = []
    clean: dict[str, Any] = {}
    for key in answers:
        if key not in by_id:
            problems.append({"field": str(key)[:60], "message": f"there is no field {str(key)[:60]!r} on this form"})
    for f in fields:
        value = answers.get(f["id"])
        label = f["label"]
        if f["type"] == "text":
            if value is None:
                value = ""
            if not isinstance(value, str):
                problems.append({"field": f["id"], "message": f"{label}: must be text"})
                continue
            value = value.replace("\r\n", "\n")
            if len(value) > f.get("max_length", TEXT_MAX):
                problems.append({"field": f["id"], "message": f"{label}: {len(value):,} characters is too long "
                                 f"(at most {f.get('max_length', TEXT_MAX):,})"})
                continue
            if final and f.get("required") and not value.strip():
                problems.append({"field": f["id"], "message": f"{label}: required"})
            elif final and value.strip() and len(value.strip()) < f.get("min_length", 0):
                problems.append({"field": f["id"], "message": f"{label}: at least {f['min_length']} characters "
                                 f"(now {len(value.strip())})"})
            if value:
                clean[f["id"]] = value
        elif f["type"] == "score":
            if value in (None, ""):
                if final and f.get("required"):
                    problems.append({"field": f["id"], "message": f"{label}: choose a value"})
                continue
            allowed = [p[0] for p in f["scale"]]
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
                problems.append({"field": f["id"], "message": f"{label}: {str(value)[:20]!r} is not on the scale "
                                 f"{min(allowed)}–{max(allowed)}"})
                continue
            clean[f["id"]] = value
        else:  # checkbox
            if value in (None, ""):
                if final and f.get("required"):
                    problems.append({"field": f["id"], "message": f"{label}: required"})
                continue
            if value in ("on", "true", "1", 1, True):
                value = True
            elif value in ("false", "0", 0, False):
                value = False
            if not isinstance(value, bool):
                problems.append({"field": f["id"], "message": f"{label}: must be true or false"})
                continue
            if final and f.get("required") and not value:
                problems.append({"field": f["id"], "message": f"{label}: required"})
            clean[f["id"]] = value
    if problems:
        head = "; ".join(p["message"] for p in problems[:5]) + (" …" if len(problems) > 5 else "")
        raise BadInput(("The review cannot be submitted: " if final else "The draft was not saved: ") + head,
                       details=problems)
    return clean


def visible_fields(fields: list[dict[str, Any]], audience: str) -> list[dict[str, Any]]:
    """The fields a reader sees: audience is 'chairs', 'reviewers' or 'authors'."""
    rank = {"authors": 0, "reviewers": 1, "chairs": 2}
    return [f for f in fields if rank[f.get("visibility", "authors")] <= rank[audience]]
