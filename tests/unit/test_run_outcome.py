"""A run's state in words (issue 17): "the code ran, 1 of 2 claims not reproduced" is not "the run failed"."""

import pytest

from app.models.run import Run
from app.services.runs import run_outcome

MISS = {"claim": "C2", "passed": False}
HIT = {"claim": "C1", "passed": True}


@pytest.mark.parametrize(("status", "reason", "checks", "badges", "kind", "headline"), [
    ("queued", None, [], [], "waiting", "Queued: waiting for a local rig"),
    ("running", None, [], [], "busy", "Running"),
    ("passed", None, [HIT, HIT], ["available", "functional", "reproduced"], "ok",
     "Passed: the code ran, and all 2 claims were reproduced"),
    ("passed", None, [HIT], ["available", "functional", "reproduced"], "ok",
     "Passed: the code ran, and its claim was reproduced"),
    ("passed", None, [], ["available", "functional"], "ok", "Passed: the code ran (it states no claims to check)"),
    ("failed", "claim C2: measured 31 > 20", [HIT, MISS], ["available", "functional"], "partial",
     "The code ran; 1 of 2 claims not reproduced"),
    # a command that broke is a failure even when a claim missed too (no functional badge)
    ("failed", "experiment E1: exit status 1", [MISS], ["available"], "bad", "The run failed"),
    # functional, a claim missed, but the reason is not the claim (the rig saw it break): a failure
    ("failed", "experiment E1: killed", [MISS], ["available", "functional"], "bad", "The run failed"),
    ("timed_out", "experiment E1: over 1m", [], ["available"], "bad", "The run failed: it ran out of time"),
    ("error", "the rig failed: OSError", [], [], "bad", "The run failed on the rig"),
    ("cancelled", None, [], [], "stopped", "Cancelled"),
])
def test_run_outcome_words(status, reason, checks, badges, kind, headline):  # noqa: ANN001
    run = Run(venue_id=1, submission_id=1, artifact_id=1, rig_kind="local", status=status, reason=reason,
              checks=checks, badges=badges)
    out = run_outcome(run)
    assert (out.kind, out.headline) == (kind, headline)
    assert out.icon and out.short  # every state has an icon and a short label for the table
    assert out.show_reason == (kind in ("partial", "bad"))
