"""The venue's marking scheme: stored as the kernel's JSON (app.moderation.scheme) plus the queue's flag thresholds;
frozen at release, unfrozen with an audited reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

import app.moderation as kernel
from app.errors import BadInput, Conflict
from app.models import (
    MarkingScheme,
    User,
    Venue,
)
from app.models.base import utcnow
from app.moderation import marks as kernel_marks
from app.services import audit
from app.services.moderation.base import _decimal_plain, _reason

# --- the marking scheme ---------------------------------------------------------------------------------------


def get_scheme_row(session: Session, venue: Venue) -> MarkingScheme | None:
    return session.exec(select(MarkingScheme).where(MarkingScheme.venue_id == venue.id)).first()


def scheme_config(session: Session, venue: Venue) -> dict:
    """The venue's scheme, or the kernel's default (group 70 / individual 30) when the chair set none."""
    row = get_scheme_row(session, venue)
    if row is None:
        return _view(kernel.default_scheme(), {})
    return _view(*parse_config(row.config))


def stored_scheme(session: Session, venue: Venue) -> dict:
    """The scheme as stored (the kernel's JSON plus "flags"): what the editor shows and the API returns."""
    row = get_scheme_row(session, venue)
    return row.config if row else default_config()


def save_scheme(session: Session, actor: User, venue: Venue, config: Any) -> MarkingScheme:
    """Replace the scheme after the kernel's checks (every problem listed); refused while frozen."""
    row = get_scheme_row(session, venue)
    if row is not None and row.frozen_at is not None:
        raise Conflict("The marking scheme is frozen since marks were released: unfreeze it first (audited).")
    checked = stored_config(*parse_config(config))  # raises with every problem named; nothing changes
    if row is None:
        row = MarkingScheme(venue_id=venue.id, config=checked, version=1, updated_by=actor.id)
    else:
        row.config, row.version, row.updated_by, row.updated_at = checked, row.version + 1, actor.id, utcnow()
    session.add(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="scheme.set",
                 summary=f"marking scheme set (version {row.version})", version=row.version, config=checked)
    return row


def unfreeze_scheme(session: Session, actor: User, venue: Venue, reason: str) -> MarkingScheme:
    row = get_scheme_row(session, venue)
    if row is None or row.frozen_at is None:
        raise Conflict("The marking scheme is not frozen.")
    reason = _reason(reason, "a reason for unfreezing the scheme")
    row.frozen_at = None
    session.add(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="scheme.unfreeze",
                 summary=f"marking scheme unfrozen: {reason}", version=row.version, reason=reason)
    return row


def _freeze_scheme(session: Session, actor: User, venue: Venue) -> MarkingScheme:
    row = get_scheme_row(session, venue)
    if row is None:
        row = MarkingScheme(venue_id=venue.id, config=default_config(), version=1, updated_by=actor.id)
    if row.frozen_at is None:
        row.frozen_at = utcnow()
    session.add(row)
    session.flush()
    return row


# --- the marking scheme, through the kernel (app.moderation.scheme) ---------------------------------------------------
# Stored as the kernel's JSON (scheme_to_dict) plus "flags": the moderation queue's thresholds. The pages read
# a plain view of it (`config`): components, scale, rounding, rubric, flags, and the kernel's scheme under
# "_scheme".

FLAG_KEYS = ("min_reviews", "disagreement", "outlier", "outlier_spread", "top", "bottom", "min_sentiment_words")


def _view(scheme: kernel.MarkingScheme, flags: dict) -> dict:
    scale = scheme.scale
    return {
        "_scheme": scheme,
        "components": [{"id": c.key, "label": c.name, "weight": _decimal_plain(c.weight), "kind": c.kind}
                       for c in scheme.components],
        "scale": {"min": _decimal_plain(scale.low), "max": _decimal_plain(scale.high),
                  "bands": [[b.letter, _decimal_plain(b.low)] for b in scale.bands]},
        "rounding": scale.decimals,
        "rubric": [{"id": c.key, "label": c.name,
                    "levels": [[_decimal_plain(lv.points), lv.name] for lv in c.levels]} for c in scheme.rubric.criteria],
        "group_fields": [f.key for f in scheme.group.fields],
        "flags": flags,
    }


def parse_config(config: Any) -> tuple[kernel.MarkingScheme, dict]:
    """A chair's scheme (the kernel's JSON, with optional "flags") checked whole; BadInput naming every problem."""
    if not isinstance(config, dict):
        raise BadInput("A marking scheme is an object (components, group, rubric, scale, flags).")
    data = {k: v for k, v in config.items() if k != "flags"}
    flags = config.get("flags") or {}
    problems = []
    unknown_keys = sorted(set(config) - {"components", "group", "rubric", "scale", "flags"})
    if unknown_keys:
        problems.append(f"unknown key(s) {', '.join(unknown_keys)} (the scheme has components, group, rubric, "
                        "scale and flags)")
    if not isinstance(flags, dict):
        problems, flags = ["flags: an object of thresholds"], {}
    unknown = sorted(set(flags) - set(FLAG_KEYS))
    if unknown:
        problems.append(f"flags: unknown setting(s) {', '.join(unknown)} (known: {', '.join(FLAG_KEYS)})")
    if any(isinstance(v, bool) or not isinstance(v, int | float) or v < 0 for v in flags.values()):
        problems.append("flags: each threshold is a number at least 0")
    try:
        scheme = kernel.parse_scheme(data)
    except kernel.SchemeError as exc:
        problems = list(exc.problems) + problems
        scheme = None
    if problems:
        raise BadInput("The marking scheme has problems: " + "; ".join(problems), details=problems)
    return scheme, {k: v for k, v in flags.items() if k in FLAG_KEYS}


def stored_config(scheme: kernel.MarkingScheme, flags: dict) -> dict:
    return {**kernel.scheme_to_dict(scheme), "flags": flags}


def default_config() -> dict:
    return stored_config(kernel.default_scheme(), {})


def _with_form_scales(scheme: kernel.MarkingScheme, fields: list[dict]) -> kernel.MarkingScheme:
    """The group rule's score fields on the review form's own scales (the form decides what a score means)."""
    from dataclasses import replace

    by_id = {f["id"]: f for f in fields}
    group_fields = tuple(replace(f, low=Decimal(by_id[f.key]["low"]), high=Decimal(by_id[f.key]["high"]))
                         if f.key in by_id else f for f in scheme.group.fields)
    return replace(scheme, group=replace(scheme.group, fields=group_fields))


def round_half_up(value: float, decimals: int) -> float:
    return float(kernel.round_half_up(Decimal(repr(float(value))), decimals))


def rubric_mark(config: dict, levels: dict) -> float:
    """A review's mark from its rubric levels (criterion -> points), on the scheme's scale, rounded once."""
    scheme = config["_scheme"]
    try:
        exact, _lines = kernel_marks.rubric_mark(scheme.rubric, levels, scheme.scale)
    except (kernel.MarkError, kernel.SchemeError) as exc:
        raise BadInput(f"The rubric levels have problems: {exc}") from None
    return float(kernel.round_half_up(exact, scheme.scale.decimals))


def validate_levels(config: dict, levels: Any) -> dict:
    """Levels as criterion -> points, each one of its criterion's levels; BadInput naming every problem."""
    if not isinstance(levels, dict):
        raise BadInput("Levels map each rubric criterion to the points of one of its levels.")
    out, problems = {}, []
    for crit in config["rubric"]:
        raw = levels.get(crit["id"])
        allowed = [lv[0] for lv in crit["levels"]]
        try:
            value = float(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            value = float("nan")
        if value is None:
            problems.append(f"{crit['label']}: choose a level")
        elif value not in allowed:
            problems.append(f"{crit['label']}: {raw!r} is not one of its levels ({', '.join(map(str, allowed))})")
        else:
            out[crit["id"]] = int(value) if value == int(value) else value
    unknown = set(levels) - {c["id"] for c in config["rubric"]}
    if unknown:
        problems.append(f"no rubric criterion {', '.join(sorted(map(str, unknown)))}")
    if problems:
        raise BadInput("The rubric levels have problems: " + "; ".join(problems), details=problems)
    return out
