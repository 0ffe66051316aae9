"""WebPA scores and individual marks against hand-computed examples."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.moderation.webpa import PeerRatingError, individual_mark, webpa_scores

TEAM = ["ann", "bob", "cat"]


def one(value: float) -> dict:
    return {"code": value}


def test_hand_computed_three_members() -> None:
    # ann: 4, 2, 2 -> 0.5, 0.25, 0.25; bob: 3, 3, 2 -> .375 .375 .25; cat: 4, 2, 2 -> 0.5, 0.25, 0.25
    ratings = {"ann": {"ann": one(4), "bob": one(2), "cat": one(2)},
               "bob": {"ann": one(3), "bob": one(3), "cat": one(2)},
               "cat": {"ann": one(4), "bob": one(2), "cat": one(2)}}
    r = webpa_scores(TEAM, ratings)
    assert r.fudge == 1 and r.non_raters == []
    assert r.scores == pytest.approx({"ann": 1.375, "bob": 0.875, "cat": 0.75})
    assert sum(r.scores.values()) == pytest.approx(3)
    assert r.explain("ann").startswith("WebPA score 1.375 = (0.500 + 0.375 + 0.500)")


def test_criteria_are_summed_before_normalising() -> None:
    ratings = {m: {"ann": {"code": 5, "report": 5}, "bob": {"code": 1, "report": 3}, "cat": {"code": 3, "report": 3}}
               for m in TEAM}
    r = webpa_scores(TEAM, ratings)
    # each rater: 10, 4, 6 of 20 -> 0.5, 0.2, 0.3; three raters
    assert r.scores == pytest.approx({"ann": 1.5, "bob": 0.6, "cat": 0.9})


def test_a_non_submitter_gets_the_others_ratings_and_the_fudge_factor() -> None:
    ratings = {"ann": {"ann": one(2), "bob": one(2), "cat": one(4)},
               "bob": {"ann": one(2), "bob": one(2), "cat": one(4)}}
    r = webpa_scores(TEAM, ratings)
    assert r.non_raters == ["cat"] and r.fudge == pytest.approx(1.5)
    # received: ann 0.25 + 0.25 = 0.5, bob 0.5, cat 1.0; × 3/2
    assert r.scores == pytest.approx({"ann": 0.75, "bob": 0.75, "cat": 1.5})
    assert sum(r.scores.values()) == pytest.approx(3)
    assert "1 member(s) did not rate" in r.explain("cat")


def test_all_equal_ratings_give_a_fair_share_each() -> None:
    ratings = {m: {n: one(3) for n in TEAM} for m in TEAM}
    assert webpa_scores(TEAM, ratings).scores == pytest.approx({m: 1.0 for m in TEAM})


def test_nobody_rated_and_all_zero_rater() -> None:
    r = webpa_scores(TEAM, {})
    assert r.scores == {m: 1.0 for m in TEAM} and "nobody in the team rated" in r.explain("bob")
    zero = webpa_scores(TEAM, {"ann": {m: one(0) for m in TEAM}, "bob": {m: one(3) for m in TEAM}}, low=0)
    assert zero.non_raters == ["ann", "cat"] and zero.scores == pytest.approx({m: 1.0 for m in TEAM})


def test_without_self_assessment() -> None:
    ratings = {"ann": {"bob": one(4), "cat": one(4)}, "bob": {"ann": one(2), "cat": one(6 - 2)},
               "cat": {"ann": one(3), "bob": one(3)}}
    r = webpa_scores(TEAM, ratings, self_assessment=False)
    # ann: .5 .5; bob: ann 1/3, cat 2/3; cat: .5 .5 -> ann 0.833, bob 1.0, cat 1.167
    assert r.scores == pytest.approx({"ann": 1 / 3 + 0.5, "bob": 1.0, "cat": 0.5 + 2 / 3})
    with pytest.raises(PeerRatingError, match="rated themselves"):
        webpa_scores(TEAM, {"ann": {"ann": one(3), "bob": one(3), "cat": one(3)}}, self_assessment=False)


@pytest.mark.parametrize(("ratings", "message"), [
    ({"zed": {m: one(3) for m in TEAM}}, "zed is not a member of this team"),
    ({"ann": {"ann": one(3), "bob": one(3), "cat": one(3), "zed": one(3)}}, "zed, who is not in this team"),
    ({"ann": {"ann": one(3), "bob": one(3), "cat": one(9)}}, "not a number from 1 to 5"),
    ({"ann": {"ann": one(3), "bob": one(True), "cat": one(3)}}, "not a number"),
    ({"ann": {"ann": one(3), "bob": one(3)}}, "did not rate cat"),
])
def test_bad_ratings_are_refused_naming_the_cause(ratings: dict, message: str) -> None:
    with pytest.raises(PeerRatingError, match=message):
        webpa_scores(TEAM, ratings)


def test_individual_mark_weighting_cap_and_scale() -> None:
    mark, why = individual_mark(Decimal(70), 1.2, weighting=Decimal("0.5"))
    assert mark == Decimal("77.0") and "WebPA 1.200" in why
    capped, why = individual_mark(Decimal(70), 1.6, weighting=Decimal(1), cap=Decimal("1.3"))
    assert capped == Decimal("91.0") and "capped at 1.3" in why
    top, why = individual_mark(Decimal(90), 1.5, weighting=Decimal(1), high=Decimal(100))
    assert top == Decimal(100) and "scale's top" in why
    assert individual_mark(Decimal(70), 0.4, weighting=Decimal(0))[0] == Decimal(70)
    with pytest.raises(PeerRatingError, match="weighting"):
        individual_mark(Decimal(70), 1.0, weighting=Decimal("1.5"))


@given(st.lists(st.lists(st.integers(1, 5), min_size=4, max_size=4), min_size=1, max_size=4))
def test_scores_always_average_one(rows: list[list[int]]) -> None:
    team = ["a", "b", "c", "d"]
    ratings = {team[i]: {m: one(v) for m, v in zip(team, row, strict=True)} for i, row in enumerate(rows)}
    r = webpa_scores(team, ratings)
    assert sum(r.scores.values()) == pytest.approx(len(team))
