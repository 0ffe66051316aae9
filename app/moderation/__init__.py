"""Moderation kernel, pure: calibrated peer scores, marking schemes and marks, flags, review quality, export, plots.

Nothing here touches the database; services build the plain inputs (dataclasses, dicts) and store the results.
"""

from app.moderation.calibrate import CalibrationError, CalibrationFit, calibrate, fit, mean_scores, median_scores

__all__ = ["CalibrationError", "CalibrationFit", "calibrate", "fit", "mean_scores", "median_scores"]
