"""Moderation kernel, pure: calibrated peer scores, marking schemes and marks, flags, review quality, export, plots.

Nothing here touches the database: services build the plain inputs (dataclasses, dicts) and store the results.
``calibrate`` is the stable interface outside checks call (see DESIGN.md).
"""

from app.moderation.calibrate import CalibrationError, CalibrationFit, Priors, calibrate, fit, mean_scores, median_scores
from app.moderation.export import ExportError, ExportRow, GradeItem, filename, render
from app.moderation.flags import CheckInput, Flag, FlagSettings, ReviewInput, SubmissionInput, flag_submission, moderation_queue
from app.moderation.marks import GroupInputs, MarkError, MarkInputs, MarkResult, Override, compute_mark, round_half_up
from app.moderation.quality import QualitySuggestion, ReviewSignals, suggest
from app.moderation.scheme import MarkingScheme, SchemeError, default_scheme, parse_scheme, scheme_to_dict, validate_scheme

__all__ = [
    "CalibrationError", "CalibrationFit", "CheckInput", "ExportError", "ExportRow", "Flag", "FlagSettings",
    "GradeItem", "GroupInputs", "MarkError", "MarkInputs", "MarkResult", "MarkingScheme", "Override", "Priors",
    "QualitySuggestion", "ReviewInput", "ReviewSignals", "SchemeError", "SubmissionInput", "calibrate",
    "compute_mark", "default_scheme", "filename", "fit", "flag_submission", "mean_scores", "median_scores",
    "moderation_queue", "parse_scheme", "render", "round_half_up", "scheme_to_dict", "suggest", "validate_scheme",
]
