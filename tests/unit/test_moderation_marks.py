"""Marking scheme and marks: weights, half-up rounding once, letter bands exact; validation names each cause."""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.moderation.marks import GroupInputs, MarkError, MarkInputs, Override, compute_mark, round_half_up
from app.moderation.scheme import (
    Band,
    BadgeRule,
    Component,
    Criterion,
    GroupRule,
    Level,
    MarkingScheme,
    MarkScale,
    Rubric,
    SchemeError,
    ScoreField,
    check_scheme,
    default_scheme,
    parse_scheme,
    scheme_to_dict,
)


def test_the_issue_example():
    r = compute_mark(default_scheme(), MarkInputs(values={"group": 68.4, "individual": 81.0}))
    assert r.value == D("72.2") and r.letter == "A"
    assert r.explanation[-1] == "70 % × 68.4 + 30 % × 81.0 = 72.2 (A)"


def test_rounding_is_half_up_and_once():
    s = default_scheme()  # 64.25 -> 64.3 half-up (banker's rounding would give 64.2)
    assert compute_mark(s, MarkInputs(values={"group": "64.25", "individual": "64.25"})).value == D("64.3")
    # Exact: 70 % × 69.94 + 30 % × 69.98 = 69.952 -> 70.0 (A); rounding the components first would give
    # 70 % × 69.9 + 30 % × 70.0 = 69.93 -> 69.9 (B).
    r = compute_mark(s, MarkInputs(values={"group": "69.94", "individual": "69.98"}))
    exact = D("0.7") * D("69.94") + D("0.3") * D("69.98")
    assert r.value == round_half_up(exact, 1) == D("70.0") and r.letter == "A"


def test_letter_band_boundaries_are_exact():
    s = default_scheme()
    for value, letter in [("69.94", "B"), ("69.95", "A"), ("70", "A"), ("100", "A"), ("59.9", "C"), ("0", "F"),
                          ("29.99", "E")]:
        r = compute_mark(s, MarkInputs(values={"group": value, "individual": value}))
        assert r.letter == letter, (value, r.value)
    assert compute_mark(s, MarkInputs(values={"group": "29.94", "individual": "29.94"})).letter == "F"


@settings(max_examples=200, deadline=None)
@given(st.decimals(0, 100, places=4), st.decimals(0, 100, places=4), st.integers(0, 100), st.integers(0, 3))
def test_total_is_the_weighted_sum_rounded_once(g, i, w, decimals):
    scheme = MarkingScheme(components=(Component("group", "G", D(w), "group"),
                                       Component("individual", "I", D(100 - w), "individual")),
                           scale=MarkScale(bands=default_scheme().scale.bands, decimals=decimals))
    r = compute_mark(scheme, MarkInputs(values={"group": g, "individual": i}))
    exact = (D(w) * g + D(100 - w) * i) / 100
    assert r.exact == exact
    assert r.value == exact.quantize(D(1).scaleb(-decimals), rounding="ROUND_HALF_UP")
    assert abs(r.value - exact) <= D("0.5") * D(10) ** -decimals
    assert min(g, i) - D(1) <= r.value <= max(g, i) + D(1)
    bands = sorted(scheme.scale.bands, key=lambda b: b.low)
    expected = next(b.letter for b in reversed(bands) if r.value >= b.low)
    assert r.letter == expected


@settings(max_examples=100, deadline=None)
@given(st.decimals(-1000, 1000, places=6), st.integers(0, 4))
def test_round_half_up_matches_the_definition(x, n):
    q = D(1).scaleb(-n)
    got = round_half_up(x, n)
    assert abs(got - x) <= q / 2
    if abs(got - x) == q / 2:  # a tie goes away from zero
        assert abs(got) > abs(x)


def test_group_mark_from_fields_lecturer_and_badges():
    scheme = MarkingScheme(group=GroupRule(
        fields=(ScoreField("sound", "Soundness", D(2)), ScoreField("repro", "Reproducibility", D(1))),
        peer_weight=D(60), badges=(BadgeRule("reproduced", "bonus", D(5)), BadgeRule("functional", "required", D(40)))))
    peer = {"sound": 7.3, "repro": 5.5}  # 70.0 and 50.0 on 0-100 -> 2/3·70 + 1/3·50 = 63.333…
    lect = {"sound": 8.2, "repro": 8.2}  # 80.0
    base = MarkInputs(group=GroupInputs(peer, lect, {"functional"}), values={"individual": 80})
    r = compute_mark(scheme, base)
    group = r.components[0]
    assert group.exact == (D(60) * (D(2) / 3 * 70 + D(1) / 3 * 50) + D(40) * 80) / 100
    assert group.value == D("70.0")
    assert any("60 % × peer" in line for line in r.explanation)
    with_bonus = compute_mark(scheme, MarkInputs(group=GroupInputs(peer, lect, {"functional", "reproduced"}),
                                                 values={"individual": 80}))
    assert with_bonus.components[0].value == D("75.0")
    capped = compute_mark(scheme, MarkInputs(group=GroupInputs(peer, lect, set()), values={"individual": 80}))
    assert capped.components[0].value == D("40.0")
    assert any("no 'functional' badge: capped at 40" in line for line in capped.explanation)
    no_lecturer = compute_mark(scheme, MarkInputs(group=GroupInputs(peer, None, {"functional"}),
                                                  values={"individual": 80}))
    assert no_lecturer.components[0].value == D("63.3")
    assert any("no lecturer review" in line for line in no_lecturer.explanation)


def test_rubric_points_map_onto_the_scale():
    r = compute_mark(default_scheme(), MarkInputs(values={"group": 50},
                                                  rubric_points={"specific": 3, "constructive": 2, "coverage": 2,
                                                                 "accuracy": 1}))
    assert r.components[1].value == D("80.0")
    with pytest.raises(MarkError, match="not a level of 'Specific'"):
        compute_mark(default_scheme(), MarkInputs(values={"group": 50}, rubric_points={
            "specific": 2.5, "constructive": 2, "coverage": 2, "accuracy": 1}))
    with pytest.raises(MarkError, match="'Covers paper and code' has not been marked"):
        compute_mark(default_scheme(), MarkInputs(values={"group": 50}, rubric_points={
            "specific": 2, "constructive": 2, "accuracy": 1}))


def test_override_replaces_and_keeps_the_computed_mark():
    s = default_scheme()
    r = compute_mark(s, MarkInputs(values={"group": 60, "individual": 80},
                                   overrides={"group": Override(65, "second marker agreed on 65")}))
    g = r.components[0]
    assert g.value == D("65.0") and g.computed == D("60.0") and g.overridden and g.reason.startswith("second")
    assert r.value == D("69.5") and r.computed == D("69.5")
    assert any("moderated to 65.0 (computed 60.0): second marker agreed on 65" in line for line in r.explanation)
    t = compute_mark(s, MarkInputs(values={"group": 60, "individual": 80}, total_override=Override("71", "appeal")))
    assert t.value == D("71.0") and t.computed == D("66.0") and t.overridden and t.letter == "A"
    with pytest.raises(MarkError, match="needs a reason"):
        compute_mark(s, MarkInputs(values={"group": 60, "individual": 80}, overrides={"group": Override(65, " ")}))


@pytest.mark.parametrize(("scheme", "cause"), [
    (MarkingScheme(components=(Component("g", "Group", D(70), "group"), Component("i", "Ind", D(20), "individual"))),
     "must sum to 100 %, not 90 %"),
    (MarkingScheme(scale=MarkScale(bands=(Band("A", D(70), D(100)), Band("B", D(0), D(65))))),
     "gap from 65 to 70"),
    (MarkingScheme(scale=MarkScale(bands=(Band("A", D(60), D(100)), Band("B", D(0), D(65))))), "overlap"),
    (MarkingScheme(scale=MarkScale(bands=(Band("A", D(50), D(100)),))), "no band covers marks from 0 to 50"),
    (MarkingScheme(rubric=Rubric((Criterion("specific", "Specific", ()),))), "'Specific' has no levels"),
    (MarkingScheme(scale=MarkScale(low=D(10), high=D(10))), "must be below"),
    (MarkingScheme(group=GroupRule(peer_weight=D(120))), "peer weight"),
    (MarkingScheme(group=GroupRule(fields=(ScoreField("x", "X", D(1), D(5), D(5)),))), "scale 5–5 is empty"),
])
def test_invalid_schemes_name_the_cause(scheme, cause):
    with pytest.raises(SchemeError, match=cause):
        check_scheme(scheme)


def test_mark_outside_the_scale_is_refused():
    with pytest.raises(MarkError, match="outside the scale 0–100"):
        compute_mark(default_scheme(), MarkInputs(values={"group": 105, "individual": 50}))
    with pytest.raises(MarkError, match="no input for the Individual work component"):
        compute_mark(default_scheme(), MarkInputs(values={"group": 50}))
    with pytest.raises(MarkError, match="peer score for 'Overall', 11, is outside its scale"):
        compute_mark(default_scheme(), MarkInputs(group=GroupInputs({"overall": 11}), values={"individual": 5}))


def test_course_scale_and_round_trip_through_data():
    data = scheme_to_dict(default_scheme())
    assert parse_scheme(data) == default_scheme()
    data["scale"] = {"low": 0, "high": 20, "decimals": 0,
                     "bands": [{"letter": "pass", "low": 10, "high": 20}, {"letter": "fail", "low": 0, "high": 10}]}
    s = parse_scheme(data)
    r = compute_mark(s, MarkInputs(values={"group": "9.5", "individual": "9.5"}))
    assert r.value == D(10) and r.letter == "pass"
    data["components"][0]["weight"] = 60
    with pytest.raises(SchemeError, match="not 90 %"):
        parse_scheme(data)
    with pytest.raises(SchemeError, match="not a number"):
        parse_scheme({"components": [{"key": "g", "weight": "lots"}]})
    with pytest.raises(SchemeError, match="has no levels"):
        parse_scheme({"rubric": {"criteria": [{"key": "specific", "levels": []}]}})


def test_rubric_level_points_are_decimal():
    c = Criterion("x", "X", (Level("a", D(0)), Level("b", D("1.5"))))
    assert c.max_points == D("1.5")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.decimals(1, 99, places=1), min_size=1, max_size=6, unique=True), st.decimals(0, 100, places=1),
       st.decimals("-5", "5", places=1).filter(lambda d: d != 0))
def test_any_band_table_without_gaps_is_exact_and_a_moved_edge_is_named(cuts, mark, shift):
    edges = [D(0), *sorted(cuts), D(100)]
    bands = tuple(Band(f"L{i}", edges[i], edges[i + 1]) for i in range(len(edges) - 1))
    scale = MarkScale(bands=bands)
    check_scheme(MarkingScheme(scale=scale))
    letter = scale.letter(mark)
    i = max(j for j in range(len(bands)) if mark >= edges[j]) if mark < 100 else len(bands) - 1
    assert letter == f"L{i}"
    # Moving one band's upper edge leaves a gap or an overlap with the next, and the message says which.
    moved = list(bands)
    moved[0] = Band("L0", edges[0], edges[1] + shift)
    problems = MarkingScheme(scale=MarkScale(bands=tuple(moved))).scale
    with pytest.raises(SchemeError, match="gap|overlap|empty|outside"):
        check_scheme(MarkingScheme(scale=problems))

