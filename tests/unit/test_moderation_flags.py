"""Flags: each fires on a case made for it, says why, and stays quiet on a clean submission."""

import pytest

from app.moderation.flags import (
    CheckInput,
    FlagSettings,
    ReviewInput,
    SubmissionInput,
    flag_submission,
    moderation_queue,
    sentiment,
)

GOOD = {"strengths": "Clear writing and a thorough evaluation in Section 4.",
        "weaknesses": "The baseline in Table 2 is weak; consider a stronger one."}


def clean(**changes) -> SubmissionInput:
    reviews = [ReviewInput("Reviewer A", 7, GOOD, calls_reproducible=True),
               ReviewInput("Reviewer B", 7.5, GOOD, calls_reproducible=True),
               ReviewInput("Reviewer C", 6.5, GOOD)]
    base = dict(submission="#17", reviews=reviews, low=1, high=10, checks=[CheckInput("C1", True)],
                calibrated=7.0, calibrated_sd=0.4)
    base.update(changes)
    return SubmissionInput(**base)


def codes(sub: SubmissionInput, **kw) -> list[str]:
    return [f.code for f in flag_submission(sub, FlagSettings(**kw))]


def test_a_clean_submission_has_no_flags():
    assert flag_submission(clean()) == []


def test_disagreement():
    sub = clean(reviews=[ReviewInput("A", 2, GOOD), ReviewInput("B", 8, GOOD), ReviewInput("C", 5, GOOD)])
    flags = [f for f in flag_submission(sub) if f.code == "disagreement"]
    assert len(flags) == 1
    assert "from 2 (A) to 8 (B), 6 points apart, above the threshold of 3.6" in flags[0].message


def test_contradiction_only_weaknesses_with_a_top_score():
    text = {"strengths": "None.", "weaknesses": "The method is unclear, the evaluation is missing and results are wrong."}
    sub = clean(reviews=[*clean().reviews[:2], ReviewInput("Reviewer C", 9, text)])
    f = [f for f in flag_submission(sub) if f.code == "contradiction"]
    assert len(f) == 1 and f[0].reviewer == "Reviewer C"
    assert "high score (9/10) but listed no strengths, only weaknesses" in f[0].message


def test_contradiction_praise_with_a_bottom_score_and_negative_text_with_a_high_one():
    praise = {"summary": "Excellent, clear and convincing work; thorough and rigorous evaluation."}
    sub = clean(reviews=[*clean().reviews[:2], ReviewInput("Reviewer C", 2, praise)])
    assert "contradiction" in codes(sub, disagreement=1.0, outlier=1.0)
    negative = {"summary": "Unclear, confusing and flawed; the results are wrong and the code is broken."}
    sub = clean(reviews=[*clean().reviews[:2], ReviewInput("Reviewer C", 9, negative)])
    msg = next(f.message for f in flag_submission(sub) if f.code == "contradiction")
    assert "mostly negative" in msg and "unclear" in msg


def test_negation_flips_a_word():
    s = sentiment("The paper is not clear and not convincing.")
    assert s.negative == 2 and s.positive == 0 and "not clear" in s.examples_neg


def test_outlier():
    reviews = [ReviewInput(n, x, GOOD) for n, x in [("A", 7), ("B", 7), ("C", 8), ("D", 7), ("E", 2)]]
    flags = flag_submission(clean(reviews=reviews, biases={"E": -1.5}))
    out = [f for f in flags if f.code == "outlier"]
    assert len(out) == 1 and out[0].reviewer == "E"
    assert "5 points below the other reviewers' median 7" in out[0].message and "harsh by 1.5" in out[0].message


def test_failed_reproduction_while_reviewers_call_it_reproducible():
    sub = clean(checks=[CheckInput("C1", True), CheckInput("C2", False)])
    f = next(f for f in flag_submission(sub) if f.code == "reproduction")
    assert "claim C2 failed reproduction" in f.message and "Reviewer A, Reviewer B called the code reproducible" in f.message
    not_run = clean(checks=[CheckInput("C2", None)])
    assert "reproduction" not in codes(not_run)


def test_too_few_submitted_reviews():
    reviews = [*clean().reviews[:2], ReviewInput("Reviewer C", None, {}, submitted=False)]
    f = next(f for f in flag_submission(clean(reviews=reviews)) if f.code == "few-reviews")
    assert f.message == "2 of 3 required reviews submitted (Reviewer C still in draft)"
    assert "few-reviews" not in codes(clean(reviews=reviews), min_reviews=2)


def test_abusive_review():
    reviews = [*clean().reviews[:2], ReviewInput("Reviewer C", 7, GOOD, abusive=True)]
    f = flag_submission(clean(reviews=reviews))
    assert f[0].code == "abusive" and "Reviewer C's review was marked abusive" in f[0].message


def test_queue_is_sorted_by_need():
    abusive = clean(submission="#3", reviews=[*clean().reviews[:2], ReviewInput("C", 7, GOOD, abusive=True)])
    disagree = clean(submission="#5", reviews=[ReviewInput("A", 2, GOOD), ReviewInput("B", 8, GOOD),
                                                ReviewInput("C", 5, GOOD)])
    few = clean(submission="#9", reviews=clean().reviews[:1])
    queue = moderation_queue([clean(submission="#1"), disagree, few, abusive])
    assert [q.submission for q in queue] == ["#3", "#9", "#5"]
    assert all(q.flags == sorted(q.flags, key=lambda f: -f.severity) for q in queue)


def test_bad_scale():
    with pytest.raises(ValueError, match="must be below"):
        flag_submission(clean(low=5, high=5))
