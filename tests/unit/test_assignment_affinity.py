"""Affinity (real model), bids, conflict masks, and explanations of a solved assignment."""

import os
import re

import numpy as np
import pytest

from app.assignment import embeddings
from app.assignment.affinity import (DEFAULT_GRANULARITY, DEFAULT_METHOD, _aggregate, _maxsim, affinity_matrix,
                                     apply_bids, score, split_sentences)
from app.assignment.conflicts import conflict_mask, own_group_pairs
from app.assignment.embeddings import MemoryEmbeddingCache
from app.assignment.explain import explain_pairs, quality_summary, svg_histogram
from app.assignment.solver import solve

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TINYML = ["Deploying neural networks on microcontrollers with TensorFlow Lite Micro and int8 quantisation",
          "Keyword spotting and wake-word detection on low-power embedded devices"]
DISTRIBUTED = ["Data-parallel distributed training of large models on GPU clusters with DDP and ZeRO",
               "All-reduce communication and gradient synchronisation across many nodes"]
GPU = ["Writing fast CUDA kernels: shared memory tiling, warp shuffles and occupancy"]


@pytest.mark.slow
def test_real_model_ranks_the_expert_first() -> None:
    papers = ["int8 quantisation of a keyword-spotting CNN on Arduino",
              "Scaling data-parallel training to 64 GPUs with overlapping all-reduce",
              "A tiled CUDA matrix-multiplication kernel reaching 80% of peak FLOPs"]
    cache = MemoryEmbeddingCache()
    aff = affinity_matrix(papers, [TINYML, DISTRIBUTED, GPU], cache=cache)
    assert aff.shape == (3, 3) and ((aff >= 0) & (aff <= 1)).all()
    assert aff[0, 0] > aff[0, 1]  # the TinyML paper is closer to the TinyML profile than to distributed training
    assert list(aff.argmax(axis=1)) == [0, 1, 2]
    # semantic-only scoring agrees on the headline case
    semantic = affinity_matrix(papers, [TINYML, DISTRIBUTED, GPU], cache=cache, lexical_weight=0.0)
    assert semantic[0, 0] > semantic[0, 1]


def fake_vectors(monkeypatch) -> None:  # noqa: ANN001
    """Bag-of-letters embeddings: fast and deterministic for structural tests."""
    def encode(chunks, model_name=embeddings.DEFAULT_MODEL):  # noqa: ANN001, ANN202
        out = np.array([[c.count(ch) for ch in "abcdefghijklmnopqrstuvwxyz"] for c in chunks], dtype=np.float32) + 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)
    monkeypatch.setattr(embeddings, "encode_chunks", encode)


def test_empty_submission_text_names_the_submission(monkeypatch) -> None:  # noqa: ANN001
    fake_vectors(monkeypatch)
    with pytest.raises(ValueError, match="submission 2 has an empty text"):
        affinity_matrix(["aaa", "bbb", "  \n"], [["aaa"]])


def test_profiles_items_and_blank_reviewers(monkeypatch) -> None:  # noqa: ANN001
    fake_vectors(monkeypatch)
    res = score(["aaaa", "zzzz"], [["aaaa", "zzzz"], [""], ["aaaz"]], lexical_weight=0.0)
    assert res.matrix.shape == (2, 3)
    assert res.matrix[0, 0] == pytest.approx(1, abs=1e-3) and res.matrix[1, 0] == pytest.approx(1, abs=1e-3)
    assert (res.matrix[:, 1] == 0).all()  # no profile, no affinity
    assert [s.shape for s in res.item_scores] == [(2, 2), (2, 0), (2, 1)]
    with pytest.raises(TypeError):
        affinity_matrix(["aaa"], ["a plain string"])
    with pytest.raises(ValueError, match="method"):
        affinity_matrix(["aaa"], [["a"]], method="median")


def test_aggregation_methods() -> None:
    s = np.array([[0.9, 0.1, 0.2], [0.5, 0.5, 0.4]])
    np.testing.assert_allclose(_aggregate(s, "max"), [0.9, 0.5])
    np.testing.assert_allclose(_aggregate(s, "mean"), [0.4, 14 / 30])
    np.testing.assert_allclose(_aggregate(s, "top2"), [0.55, 0.5])
    np.testing.assert_allclose(_aggregate(s[:, :1], "top2"), [0.9, 0.5])


def test_default_aggregation_is_max_for_short_profiles_and_top_few_for_long_ones() -> None:
    assert DEFAULT_METHOD == "top15"
    rng = np.random.default_rng(0)
    for n in range(1, 7):  # a student's own paper plus a few interests: the best item alone counts
        s = rng.random((4, n))
        np.testing.assert_allclose(_aggregate(s, "top15"), s.max(axis=1))
    s = rng.random((4, 7))  # 7 items: the best two
    np.testing.assert_allclose(_aggregate(s, "top15"), np.sort(s, axis=1)[:, -2:].mean(axis=1))
    s = np.tile(np.linspace(0.05, 1.0, 20), (2, 1))  # a researcher's 20 papers: the best three
    np.testing.assert_allclose(_aggregate(s, "top15"), [0.95, 0.95])
    assert _aggregate(np.zeros((3, 0)), "top15").tolist() == [0, 0, 0]


def test_split_sentences() -> None:
    text = ("A short title\nWe study int8 quantisation of keyword spotting models. It works, e.g. Table 2 shows "
            "a gain of 3 points on the benchmark! Why? Because the calibration set matters a lot here.\n  Code online.")
    assert split_sentences(text) == [
        "A short title We study int8 quantisation of keyword spotting models.",  # a 3-word title joins the next
        "It works, e.g. Table 2 shows a gain of 3 points on the benchmark!",  # "e.g. Table" breaks, then rejoins
        "Why? Because the calibration set matters a lot here. Code online.",  # short pieces merge forward, last back
    ]
    assert split_sentences("one two three four five six. Seven eight nine ten eleven twelve.") == [
        "one two three four five six.", "Seven eight nine ten eleven twelve."]
    assert split_sentences("Too short.") == ["Too short."] and split_sentences(" \n ") == []
    assert split_sentences("A b c d e f. " * 10, max_words=12) == ["A b c d e f.", "A b c d e f."]


def test_maxsim_on_hand_made_vectors() -> None:
    e = np.eye(3, dtype=np.float32)
    # paper 0: sentences along x and y; paper 1: along z. item 0: x only; item 1: x, y and z; item 2: (x+y)/√2
    p_vecs, p_counts = np.stack([e[0], e[1], e[2]]), [2, 1]
    q_vecs, q_counts = np.stack([e[0], e[0], e[1], e[2], (e[0] + e[1]) / np.sqrt(2)]), [1, 3, 1]
    h = 1 / np.sqrt(2)
    forward = _maxsim(p_vecs, p_counts, q_vecs, q_counts)
    np.testing.assert_allclose(forward, [[0.5, 1.0, h], [0.0, 1.0, 0.0]], atol=1e-6)
    # symmetric: item 1's three sentences find in paper 0 matches 1, 1, 0 -> 2/3; in paper 1: 0, 0, 1 -> 1/3
    both = _maxsim(p_vecs, p_counts, q_vecs, q_counts, symmetric=True)
    np.testing.assert_allclose(both, [[0.75, (1 + 2 / 3) / 2, h], [0.0, (1 + 1 / 3) / 2, 0.0]], atol=1e-6)
    # blocks smaller than the data give the same result; negative cosines count as 0
    np.testing.assert_allclose(_maxsim(p_vecs, p_counts, q_vecs, q_counts, block_rows=1), forward)
    assert _maxsim(-p_vecs, p_counts, q_vecs, q_counts).max() == 0
    assert _maxsim(p_vecs, p_counts, q_vecs[:0], []).shape == (2, 0)


def test_sentence_granularity_in_score(monkeypatch) -> None:  # noqa: ANN001
    fake_vectors(monkeypatch)
    assert DEFAULT_GRANULARITY == "text"
    papers = ["aaaa aaaa aaaa aaaa aaaa aaaa. Zzzz zzzz zzzz zzzz zzzz zzzz."]
    profiles = [["aaaa aaaa aaaa aaaa aaaa aaaa."], ["Mmmm mmmm mmmm mmmm mmmm mmmm."]]
    res = score(papers, profiles, lexical_weight=0.0, granularity="sentence")
    # the "a" sentence matches reviewer 0 exactly, the "z" one barely: about (1 + 0) / 2
    assert res.matrix[0, 0] == pytest.approx(0.5, abs=0.01) and res.matrix[0, 1] < 0.01
    sym = affinity_matrix(papers, profiles, lexical_weight=0.0, granularity="sentence-symmetric")
    assert sym[0, 0] == pytest.approx(0.75, abs=0.01)  # the item's single sentence is matched fully
    assert ((sym >= 0) & (sym <= 1)).all()
    with pytest.raises(ValueError, match="granularity"):
        affinity_matrix(papers, profiles, granularity="word")


def test_lexical_blend_rewards_shared_rare_terms(monkeypatch) -> None:  # noqa: ANN001
    fake_vectors(monkeypatch)
    papers = ["pruning nano33ble firmware", "pruning transformer models"]
    profiles = [["nano33ble firmware"], ["bert language models"]]
    lex = affinity_matrix(papers, profiles, lexical_weight=1.0)
    assert lex[0, 0] > 0.5 and lex[0, 1] == 0


def test_apply_bids() -> None:
    aff = np.full((2, 3), 0.5)
    out = apply_bids(aff, [["eager", None, "not_willing"], [None, "conflict", "willing"]])
    np.testing.assert_allclose(out, [[0.65, 0.5, 0.3], [0.5, 0.0, 0.55]])
    assert (aff == 0.5).all()  # input untouched
    assert apply_bids(np.array([[0.95]]), {(0, 0): "eager"})[0, 0] == 1.0  # stays in [0, 1]
    with pytest.raises(ValueError, match="unknown bid 'maybe'"):
        apply_bids(aff, {(0, 0): "maybe"})
    with pytest.raises(ValueError, match="rows"):
        apply_bids(aff, [[None] * 3])


def test_conflict_mask() -> None:
    mask = conflict_mask(3, 4, [(0, 1)], [(2, 3), (0, 1)])
    assert mask.dtype == bool and mask.sum() == 2 and mask[0, 1] and mask[2, 3]
    with pytest.raises(ValueError, match=r"conflict \(3, 0\) is out of range"):
        conflict_mask(3, 4, [(3, 0)])
    assert own_group_pairs(["g1", "g2"], ["g2", None, "g1", "g3"]) == [(1, 0), (0, 2)]


def test_explanations_and_summary() -> None:
    aff = np.array([[0.9, 0.2, 0.4], [0.8, 0.7, 0.1]])
    sol = solve(aff, 1, 0, 1)
    assert sol.pairs == [(0, 0), (1, 1)]
    items = [np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([[0.2], [0.7]]), np.zeros((2, 0))]
    ex = {(e.paper, e.reviewer): e for e in explain_pairs(aff, sol, items)}
    assert ex[(0, 0)].rank_for_reviewer == 1 and ex[(0, 0)].rank_for_paper == 1 and ex[(0, 0)].closest_item == 1
    assert ex[(1, 1)].affinity == pytest.approx(0.7) and ex[(1, 1)].rank_for_paper == 2
    assert ex[(1, 1)].closest_item == 0 and ex[(1, 1)].closest_item_score == pytest.approx(0.7)
    summary = quality_summary(aff, sol)
    assert summary["mean_affinity"] == pytest.approx(0.8) and summary["min_affinity"] == pytest.approx(0.7)
    assert summary["load_histogram"] == {0: 1, 1: 2}
    assert summary["min_paper_total"] == pytest.approx(0.7)


def test_svg_histogram() -> None:
    svg = svg_histogram([0.05, 0.15, 0.15, 0.95, 1.0], bins=10, title="A <b> & c")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "A &lt;b&gt; &amp; c" in svg and "<b>" not in svg
    assert len(re.findall(r"<rect ", svg)) == 10
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert heights[1] == max(heights) and heights[0] == pytest.approx(heights[1] / 2) and heights[9] == heights[1]  # 0.95 and 1.0 share the last bin
    with pytest.raises(ValueError):
        svg_histogram([1], bins=0)


def test_tfidf_matches_scikit_learn() -> None:
    text = pytest.importorskip("sklearn.feature_extraction.text")
    from app.assignment.affinity import _tokens, lexical_similarity

    papers = ["int8 quantisation of a CNN on the Arduino Nano 33", "GPU kernels in CUDA for the softmax", "the"]
    items = ["Arduino int8 deployment on a Nano", "CUDA softmax kernel fusion", "", "federated clients"]
    vec = text.TfidfVectorizer(sublinear_tf=True, analyzer=_tokens)
    m = vec.fit_transform(papers + items)
    np.testing.assert_allclose(lexical_similarity(papers, items), (m[:3] @ m[3:].T).toarray(), atol=1e-12)
    assert lexical_similarity(["the a"], ["of"]).tolist() == [[0.0]]  # only stop words: no vocabulary, no score
