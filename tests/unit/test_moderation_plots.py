"""SVG plots: well-formed, every text escaped, degenerate inputs drawn rather than crashing."""

import xml.etree.ElementTree as ET

import pytest

from app.moderation.plots import agreement, bias_intervals, calibrated_vs_mean, icc1, mark_histogram

EVIL = '<script>alert("x")</script> & "quotes"'


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything not well-formed, e.g. an unescaped label
    assert root.tag.endswith("svg")
    return root


def texts(root: ET.Element) -> str:
    return " ".join(t for el in root.iter() for t in [el.text or "", *el.attrib.values()])


def test_histogram():
    root = parsed(mark_histogram([12, 55.5, 70, 70, 99, None], title=EVIL))
    assert len([el for el in root.iter() if el.tag.endswith("rect")]) == 10
    assert "<script>" not in mark_histogram([1], title=EVIL) and EVIL in texts(root)
    parsed(mark_histogram([], title="empty"))
    with pytest.raises(ValueError):
        mark_histogram([1], low=5, high=5)


def test_calibrated_vs_mean_and_bias_intervals_escape_labels():
    svg = calibrated_vs_mean([(EVIL, 5.0, 6.2, 0.4), ("#2", 7.0, 6.5, None)], low=1, high=10)
    root = parsed(svg)
    assert EVIL in texts(root) and "<script>" not in svg
    svg = bias_intervals([(EVIL, 1.2, 0.3), ("R2", -0.1, 0.6), ("R3", 0.0, 0.0)])
    assert EVIL[:40] in texts(parsed(svg)) and "<script>" not in svg
    parsed(bias_intervals([]))


def test_agreement_and_icc():
    perfect = {"a": [3, 3, 3], "b": [8, 8], "c": [5, 5]}
    assert icc1(perfect) == pytest.approx(1.0)
    noisy = {"a": [1, 9], "b": [9, 1], "c": [5, 5]}
    assert icc1(noisy) < 0
    assert icc1({"a": [5]}) is None
    root = parsed(agreement(perfect, low=1, high=10, title=EVIL))
    assert "ICC 1.00" in texts(root)
