"""app.services.assignments.calibration.choose_calibration: one allowed item per student, spread evenly, stable."""

from collections import Counter

from app.services.assignments.calibration import choose_calibration


def _by_student(pairs: list[tuple[int, int]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for item, student in pairs:
        out.setdefault(student, []).append(item)
    return out


def test_each_student_gets_one_allowed_item_spread_evenly() -> None:
    students = list(range(1, 11))
    items = [100, 200, 300]
    own = {100: {1, 2}, 200: {3, 4}}  # students 1-4 wrote items 100 and 200
    choice = choose_calibration(students, items, lambda i, s: s not in own.get(i, set()))
    mine = _by_student(choice.pairs)
    assert sorted(mine) == students and all(len(v) == 1 for v in mine.values())
    assert all(s not in own.get(v[0], set()) for s, v in mine.items())
    counts = Counter(i for i, _s in choice.pairs)
    assert max(counts.values()) - min(counts.values()) <= 1 and choice.skipped == []


def test_a_student_with_no_allowed_item_is_skipped() -> None:
    choice = choose_calibration([1, 2], [100], lambda i, s: s != 1)
    assert choice.pairs == [(100, 2)] and choice.skipped == [1]


def test_a_rerun_keeps_each_students_item_and_never_stacks_a_second() -> None:
    students, items = [1, 2, 3, 4], [100, 200]
    first = choose_calibration(students, items, lambda i, s: True)
    again = choose_calibration(students, items, lambda i, s: True, current=_by_student(first.pairs))
    assert again.pairs == first.pairs
    # someone who holds two (given by hand) keeps one, unless both reviews were started
    held = {1: [100, 200], 2: [100], 3: [200], 4: [200]}
    trimmed = _by_student(choose_calibration(students, items, lambda i, s: True, current=held).pairs)
    assert all(len(v) == 1 for v in trimmed.values())
    kept = _by_student(choose_calibration(students, items, lambda i, s: True, current=held,
                                          keep={(100, 1), (200, 1)}).pairs)
    assert kept[1] == [100, 200] and all(len(kept[s]) == 1 for s in (2, 3, 4))


def test_a_new_item_takes_over_part_of_the_load_and_affinity_breaks_ties() -> None:
    students = [1, 2, 3, 4]
    held = {s: [100] for s in students}
    choice = choose_calibration(students, [100, 200], lambda i, s: True, current=held)
    assert Counter(i for i, _s in choice.pairs) == {100: 2, 200: 2}
    assert sum(1 for i, s in choice.pairs if i == 100 and s in held) == 2  # two stayed, two moved
    picked = choose_calibration([1], [100, 200], lambda i, s: True, affinity=lambda i, s: 0.9 if i == 200 else 0.1)
    assert picked.pairs == [(200, 1)]
