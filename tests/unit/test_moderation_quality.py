"""Review-quality suggestion: levels follow the signals, every criterion says why, it is never complete by magic."""

from decimal import Decimal as D

from app.moderation.flags import CheckInput
from app.moderation.quality import ReviewSignals, specificity, suggest
from app.moderation.scheme import DEFAULT_RUBRIC, Criterion, Level, Rubric

THOROUGH = {
    "summary": "The report measures a fused softmax kernel on an A100 and claims a 3.1x speed-up (Section 4, Table 2).",
    "strengths": "Figure 3 is clear; the roofline analysis in Section 5 is convincing. The repository's README "
                 "explains how to install the dependencies and bench.py reproduces the timing.",
    "weaknesses": "Table 2 reports 3.1x but the rig measured 2.4x on run 12; the paper should explain the gap. "
                  "You could add error bars to Figure 3 and consider a larger batch size. In kernel.cu lines 40-52 "
                  "the shared-memory tile is hard-coded; I suggest making it a parameter. The code would benefit "
                  "from a test of the fallback path in `softmax_ref`.",
}
THIN = {"summary": "Nice paper.", "strengths": "Good.", "weaknesses": ""}


def levels(s):
    return {c.key: c.level.name if c.level else None for c in s.criteria}


def test_a_thorough_review_gets_high_levels_with_reasons():
    s = suggest(ReviewSignals(THOROUGH, score=6, consensus=6.4, helpfulness=[5, 4], calls_reproducible=False,
                              checks=[CheckInput("C1", False)], calibration=[(7, 7.0)]))
    lv = levels(s)
    assert lv["specific"] in ("specific", "precise")
    assert lv["constructive"] in ("constructive", "excellent")
    assert lv["coverage"] == "both"
    assert lv["accuracy"] == "accurate"
    assert s.complete and s.points >= D(8) and s.max_points == D(10)
    for c in s.criteria:
        assert c.reasons
    spec = next(c for c in s.criteria if c.key == "specific")
    assert "figures" in spec.reasons[0] and "tables" in spec.reasons[0]
    acc = next(c for c in s.criteria if c.key == "accuracy")
    assert any("C1 failed on the rig" in r for r in acc.reasons)
    assert s.rubric_points() == {c.key: c.level.points for c in s.criteria}


def test_a_thin_review_gets_low_levels():
    s = suggest(ReviewSignals(THIN, score=9, consensus=4.0, helpfulness=[1], late=True, hours_late=30,
                              calls_reproducible=True, checks=[CheckInput("C1", False)]))
    lv = levels(s)
    assert lv["specific"] == "generic"
    assert lv["constructive"] == "none"
    assert lv["coverage"] == "one side"
    assert lv["accuracy"] == "wrong"
    assert s.points <= D(2)
    assert any("late (30 h after the deadline)" in n for n in s.notes)
    assert any("very short" in n for n in s.notes)
    acc = next(c for c in s.criteria if c.key == "accuracy")
    assert any("contradicts the runs" in r for r in acc.reasons)
    assert any("9 vs calibrated consensus 4.0" in r for r in acc.reasons)


def test_without_anything_to_compare_accuracy_stays_open():
    s = suggest(ReviewSignals(THOROUGH))
    acc = next(c for c in s.criteria if c.key == "accuracy")
    assert acc.level is None and not s.complete
    assert "marker decides" in acc.reasons[-1]


def test_custom_rubric_criteria_without_a_signal_stay_open_and_levels_map():
    rubric = Rubric((Criterion("specific", "Specific", (Level("no", D(0)), Level("yes", D(5)))),
                     Criterion("tone", "Tone", (Level("rude", D(0)), Level("kind", D(1))))))
    s = suggest(ReviewSignals(THOROUGH), rubric)
    assert s.criteria[0].level.name == "yes" and s.criteria[1].level is None
    assert s.max_points == D(6)


def test_specificity_counts():
    counts = specificity("See Section 3.2, Fig. 4, Table 1 and train.py line 12; 91.5 % accuracy at 180 KB.")
    assert counts["sections"] == 1 and counts["figures"] == 1 and counts["tables"] == 1
    assert counts["code"] == 2 and counts["numbers"] >= 2


def test_default_rubric_has_the_four_criteria():
    assert [c.key for c in DEFAULT_RUBRIC.criteria] == ["specific", "constructive", "coverage", "accuracy"]
