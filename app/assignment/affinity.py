"""Affinity between submissions and reviewers: semantic similarity to the reviewer's profile, plus bids.

Score of (submission i, reviewer j) = (1 - w) · semantic + w · lexical, both in [0, 1]:

- semantic: cosine of MiniLM embeddings, clipped at 0 (a negative cosine means "unrelated" just as 0
  does, and clipping keeps the useful 0..0.8 range instead of squeezing it into 0.5..0.9 as (c+1)/2 would);
- lexical: TF-IDF cosine (sublinear tf, English stop words, fitted on this venue's texts), which rewards
  shared rare terms such as "int8", "Nano 33 BLE" or "ZeRO" that a small sentence model blurs;
- both are computed per profile item and aggregated over the reviewer's items with `method`.

Aggregation (default "top15": the mean of the best 15 % of the reviewer's items, at least one). A profile
is a list of things the reviewer knows. With a few items (a student's own paper and stated interests, up
to 6 items) that is exactly the best-matching item, "max": expertise in one of them is enough, and "mean"
would make a reviewer with three different interests look weak everywhere (benchmarks/assignment.py
section "e", synthetic course texts, AUC of experts over non-experts: max 0.993, top2 0.976, mean 0.936).
With a long profile (a researcher's 20 recent papers) a single close paper is weak evidence (a side
project, a co-authorship) and the best few together are better: on 20 papers it averages the best 3.

Measured on the gold standard of Stelmakh et al. (58 researchers' self-reported expertise on 477 papers
they had read, titles + abstracts, 20-paper profiles; loss 0 = perfect order, 0.5 = random; 95 % bootstrap
intervals over reviewers; benchmarks/goldstandard.py):

    max (the previous default)   0.236 [0.190, 0.281]
    top15 (default)              0.214 [0.172, 0.259]   difference -0.023 [-0.049, +0.004]
    top3 0.215, top2 0.221, mean 0.242; 10 instead of 20 profile papers +0.021 [+0.006, +0.038]
    published (GPU models): TPMS 0.28, SPECTER 0.27, SPECTER+MFR 0.24, SPECTER2+SciNCL 0.21

The mean of the best 2 or 3 items beat max under each of the three chunkings tried (200 words, 100 words,
even chunks of at most 180), which is why the default changed although the interval of the difference on
58 reviewers still touches 0. The 15 % comes from "the best 3 of 20" and was not tuned further (these
profiles hold 2-20 usable papers, 15 on average). The lexical blend helped max a little (weight 0:
+0.008 [+0.000, +0.016]) and makes no difference under top15 (+0.000 [-0.007, +0.007]); it stays at 0.2
for the rare course terms above, which these abstracts do not test. Chunk length (200 vs 100 words) moved
the loss by less than its noise. Longer profiles score better, so reviewers' stated interests are worth
asking for.

Granularity (default "text": one vector per text). "sentence" scores an item by late interaction (ColBERT's
MaxSim): each sentence of the submission takes its best cosine among the item's sentences, averaged over
the submission's sentences; "sentence-symmetric" averages that with the same from the item's side. The idea,
fixed before measuring: an abstract mixes problem, method and results, and a reviewer's paper may match only
some of them. It did not help here (same protocol, top15 over items, lexical 0.2):

    sentence            0.241 [0.191, 0.292]   difference vs text +0.028 [-0.005, +0.063]
    sentence-symmetric  0.224 [0.178, 0.272]   difference vs text +0.011 [-0.015, +0.040]

and costs more: ~8 sentences per abstract (median 21 words), ~1.25x the encoding time of whole texts on the
same 150 abstracts (8.3 s vs 6.6 s, CPU) and 8x the cache entries. It stays an option, not the default.

Rejected after measuring (benchmarks/goldstandard.py section 4, each with its reason): word-count-weighted
chunks, whole-profile lexical, a parameter-free soft top-k and a text + sentence ensemble changed nothing
(within ±0.003); within-reviewer whitening, a title field, corpus-mean centring and a paper-side hubness
correction (CSLS) made it worse, the last two beyond the interval (+0.036, +0.048): MiniLM's raw cosine is
already well calibrated for ranking papers by a reviewer's expertise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from app.assignment.embeddings import (DEFAULT_MODEL, MAX_CHUNKS, MAX_WORDS, EmbeddingCache, Progress,
                                       embed_texts)

METHODS = ("top15", "max", "mean", "top2")
# "text": one vector per text (the mean of its chunks); "sentence": late interaction (ColBERT's MaxSim): the
# mean over the submission's sentences of each one's best cosine to the item's sentences; "sentence-symmetric":
# the mean of that and the same from the item's side (BERTScore's F-style symmetry). See _maxsim.
GRANULARITIES = ("text", "sentence", "sentence-symmetric")
DEFAULT_GRANULARITY = "text"
MIN_SENTENCE_WORDS = 6  # shorter pieces ("e.g.", "Code is available.", a short title) join the next sentence
DEFAULT_METHOD = "top15"
TOP_PERCENT = 15  # "top15" averages the best ceil(15 % of n) items: 1 item up to n = 6, 3 items at n = 20
LEXICAL_WEIGHT = 0.2

# Bids nudge the score; they never override topic fit entirely. A conflict bid is a hard constraint that
# belongs in the conflict mask (see app.assignment.conflicts); here it only zeroes the score.
BID_ADJUSTMENT = {"eager": 0.15, "willing": 0.05, "not_willing": -0.2}
BID_VALUES = (*BID_ADJUSTMENT, "conflict")


@dataclass
class AffinityResult:
    """The papers × reviewers matrix and, per reviewer, the papers × items similarities behind it."""

    matrix: np.ndarray
    item_scores: list[np.ndarray]


def _aggregate(scores: np.ndarray, method: str) -> np.ndarray:
    """papers × items -> papers vector."""
    if scores.shape[1] == 0:
        return np.zeros(scores.shape[0])
    if method == "max":
        return scores.max(axis=1)
    if method == "mean":
        return scores.mean(axis=1)
    if method == "top15":
        k = max(1, math.ceil(scores.shape[1] * TOP_PERCENT / 100))
        return np.sort(scores, axis=1)[:, -k:].mean(axis=1)
    if scores.shape[1] == 1:
        return scores[:, 0]
    top = np.partition(scores, scores.shape[1] - 2, axis=1)[:, -2:]
    return top.mean(axis=1)


_TOKEN = re.compile(r"[a-z0-9][a-z0-9.+-]*[a-z0-9]|[a-z0-9]")
_STOP_WORDS = frozenset("""a about above after again against all also an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from further had has have
having here how i if in into is it its itself just more most no nor not now of off on once only or other our ours
out over own same she should so some such than that the their them then there these they this those through to too
under until up very was we were what when where which while who whom why will with would you your yours using use
used based show shows paper report project results study approach method methods propose proposed via""".split())


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOP_WORDS]


def lexical_similarity(paper_texts: list[str], items: list[str]) -> np.ndarray:
    """TF-IDF cosine, papers × items: sublinear tf, smoothed idf fitted on all texts of this call, L2 rows.

    Written with scipy.sparse rather than scikit-learn: same formula as TfidfVectorizer(sublinear_tf=True),
    without a heavy import on the request path.
    """
    from scipy import sparse

    docs = [_tokens(t) for t in paper_texts + items]
    vocab: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for r, doc in enumerate(docs):
        counts: dict[int, int] = {}
        for tok in doc:
            idx = vocab.setdefault(tok, len(vocab))
            counts[idx] = counts.get(idx, 0) + 1
        rows.extend([r] * len(counts))
        cols.extend(counts)
        vals.extend(counts.values())
    if not vocab:
        return np.zeros((len(paper_texts), len(items)))
    tf = sparse.csr_matrix((1.0 + np.log(np.asarray(vals, dtype=np.float64)), (rows, cols)),
                           shape=(len(docs), len(vocab)))
    df = np.bincount(np.asarray(cols), minlength=len(vocab))
    idf = np.log((1 + len(docs)) / (1 + df)) + 1.0
    m = tf @ sparse.diags(idf)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m = sparse.diags(1.0 / np.where(norms == 0, 1.0, norms)) @ m
    p, q = m[: len(paper_texts)], m[len(paper_texts):]
    return np.asarray((p @ q.T).todense())


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")


def split_sentences(text: str, min_words: int = MIN_SENTENCE_WORDS,
                    max_words: int = MAX_WORDS * MAX_CHUNKS) -> list[str]:
    """Sentences of a text: lines (a title stays apart from its abstract), then ". X" / "? X" / "! X" breaks.

    A piece of fewer than min_words words is merged into the next one (the last one into the one before),
    and sentences stop once max_words words are taken: the same first ~1600 words as text granularity.
    Whitespace is normalised; a blank text gives [].
    """
    pieces = [" ".join(p.split()) for line in text.splitlines() for p in _SENTENCE_END.split(line)]
    out: list[str] = []
    carry, total = "", 0
    for piece in filter(None, pieces):
        piece = f"{carry} {piece}" if carry else piece
        if len(piece.split()) < min_words:
            carry = piece
            continue
        out.append(piece)
        carry = ""
        total += len(piece.split())
        if total >= max_words:
            break
    if carry:
        if out:
            out[-1] = f"{out[-1]} {carry}"
        else:
            out.append(carry)
    return out


def _maxsim(p_vecs: np.ndarray, p_counts: Sequence[int], q_vecs: np.ndarray, q_counts: Sequence[int],
            symmetric: bool = False, block_rows: int = 2048) -> np.ndarray:
    """Late-interaction similarity, papers × items, in [0, 1].

    p_vecs stacks every paper's sentence vectors (p_counts[i] rows for paper i, each >= 1), q_vecs every
    item's. Score(i, k) = mean over paper i's sentences of the best (clipped-at-0) cosine to any of item k's
    sentences; symmetric: the mean of that and the same with the roles swapped.
    """
    p_counts, q_counts = np.asarray(p_counts, dtype=np.int64), np.asarray(q_counts, dtype=np.int64)
    n_p, n_q = len(p_counts), len(q_counts)
    out = np.zeros((n_p, n_q))
    if n_p == 0 or n_q == 0:
        return out
    p_starts = np.concatenate([[0], np.cumsum(p_counts)[:-1]])
    q_starts = np.concatenate([[0], np.cumsum(q_counts)[:-1]])
    a = 0
    while a < n_p:  # blocks of whole papers keep the sentence × sentence matrix small
        b = a + 1
        while b < n_p and p_starts[b] + p_counts[b] - p_starts[a] <= block_rows:
            b += 1
        lo, hi = p_starts[a], p_starts[b - 1] + p_counts[b - 1]
        local = p_starts[a:b] - lo
        sims = np.clip(p_vecs[lo:hi] @ q_vecs.T, 0.0, 1.0).astype(np.float64)  # paper sents × item sents
        best_in_item = np.maximum.reduceat(sims, q_starts, axis=1)  # each paper sentence's best per item
        forward = np.add.reduceat(best_in_item, local, axis=0) / p_counts[a:b, None]
        if symmetric:
            best_in_paper = np.maximum.reduceat(sims, local, axis=0)  # each item sentence's best per paper
            backward = np.add.reduceat(best_in_paper, q_starts, axis=1) / q_counts[None, :]
            forward = (forward + backward) / 2
        out[a:b] = forward
        a = b
    return np.clip(out, 0.0, 1.0)


def _sentence_sims(paper_texts: list[str], items: list[str], symmetric: bool, *, model_name: str,
                   cache: EmbeddingCache | None, progress: Progress | None, max_words: int) -> np.ndarray:
    """Papers × items MaxSim over sentence embeddings (each distinct sentence embedded once, cached)."""
    p_sents = [split_sentences(t) for t in paper_texts]
    q_sents = [split_sentences(t) for t in items]
    unique = list(dict.fromkeys(x for sents in p_sents + q_sents for x in sents))
    vecs = embed_texts(unique, model_name=model_name, cache=cache, progress=progress, max_words=max_words)
    row = {x: r for r, x in enumerate(unique)}
    p_vecs = vecs[[row[x] for sents in p_sents for x in sents]]
    q_vecs = vecs[[row[x] for sents in q_sents for x in sents]]
    return _maxsim(p_vecs, [len(x) for x in p_sents], q_vecs, [len(x) for x in q_sents], symmetric)


def score(paper_texts: list[str], reviewer_profiles: list[list[str]], *, cache: EmbeddingCache | None = None,
          model_name: str = DEFAULT_MODEL, method: str = DEFAULT_METHOD, lexical_weight: float = LEXICAL_WEIGHT,
          progress: Progress | None = None, max_words: int = MAX_WORDS,
          granularity: str = DEFAULT_GRANULARITY) -> AffinityResult:
    """Affinity matrix and item-level scores (see the module docstring for the scoring)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    if not 0 <= lexical_weight <= 1:
        raise ValueError(f"lexical_weight must be in [0, 1], got {lexical_weight}")
    for i, text in enumerate(paper_texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"submission {i} has an empty text: there is nothing to match reviewers against")
    n_papers, n_reviewers = len(paper_texts), len(reviewer_profiles)
    items: list[str] = []
    owner: list[int] = []
    for j, profile in enumerate(reviewer_profiles):
        if isinstance(profile, str):
            raise TypeError(f"reviewer {j}'s profile must be a list of texts, not a string")
        for item in profile:
            if item and item.strip():
                items.append(item)
                owner.append(j)
    if n_papers == 0 or n_reviewers == 0:
        return AffinityResult(np.zeros((n_papers, n_reviewers)), [np.zeros((n_papers, 0))] * n_reviewers)
    if granularity == "text":
        vecs = embed_texts(paper_texts + items, model_name=model_name, cache=cache, progress=progress,
                           max_words=max_words)
        sims = np.clip(vecs[:n_papers] @ vecs[n_papers:].T, 0.0, 1.0).astype(np.float64)
    else:
        sims = _sentence_sims(paper_texts, items, granularity == "sentence-symmetric", model_name=model_name,
                              cache=cache, progress=progress, max_words=max_words)
    if lexical_weight > 0 and items:
        lexical = np.clip(lexical_similarity(paper_texts, items), 0.0, 1.0)
        sims = (1 - lexical_weight) * sims + lexical_weight * lexical
    owner_arr = np.asarray(owner, dtype=np.int64)
    matrix = np.zeros((n_papers, n_reviewers))
    item_scores = []
    for j in range(n_reviewers):
        cols = sims[:, owner_arr == j] if items else np.zeros((n_papers, 0))
        item_scores.append(cols)
        matrix[:, j] = _aggregate(cols, method)
    return AffinityResult(np.clip(matrix, 0.0, 1.0), item_scores)


def affinity_matrix(paper_texts: list[str], reviewer_profiles: list[list[str]], *,
                    cache: EmbeddingCache | None = None, model_name: str = DEFAULT_MODEL,
                    method: str = DEFAULT_METHOD, lexical_weight: float = LEXICAL_WEIGHT,
                    progress: Progress | None = None, max_words: int = MAX_WORDS,
                    granularity: str = DEFAULT_GRANULARITY) -> np.ndarray:
    """Papers × reviewers affinities in [0, 1]: the product's scoring with its default model and settings.

    A reviewer with no non-blank profile item scores 0 everywhere; a blank submission text is a ValueError.
    """
    return score(paper_texts, reviewer_profiles, cache=cache, model_name=model_name, method=method,
                 lexical_weight=lexical_weight, progress=progress, max_words=max_words,
                 granularity=granularity).matrix


def apply_bids(aff: np.ndarray, bids: Sequence[Sequence[str | None]] | Mapping[tuple[int, int], str] | np.ndarray,
               adjustment: Mapping[str, float] | None = None) -> np.ndarray:
    """A copy of aff with bids applied (eager / willing raise, not_willing lowers, conflict zeroes), in [0, 1].

    bids: a papers × reviewers grid of bid values or None, or a {(paper, reviewer): value} mapping.
    """
    adjustment = dict(BID_ADJUSTMENT if adjustment is None else adjustment)
    out = np.array(aff, dtype=np.float64, copy=True)
    if isinstance(bids, Mapping):
        cells = bids.items()
    else:
        grid = bids
        if len(grid) != out.shape[0]:
            raise ValueError(f"bids have {len(grid)} rows but there are {out.shape[0]} submissions")
        cells = []
        for i, row in enumerate(grid):
            if len(row) != out.shape[1]:
                raise ValueError(f"bids row {i} has {len(row)} entries but there are {out.shape[1]} reviewers")
            cells.extend(((i, j), v) for j, v in enumerate(row) if v is not None)
    for (i, j), value in cells:
        if not (0 <= i < out.shape[0] and 0 <= j < out.shape[1]):
            raise ValueError(f"bid for ({i}, {j}) is out of range for {out.shape[0]} x {out.shape[1]}")
        value = getattr(value, "value", value)  # accept enum members
        if value == "conflict":
            out[i, j] = 0.0
        elif value in adjustment:
            out[i, j] += adjustment[value]
        else:
            raise ValueError(f"unknown bid {value!r} for ({i}, {j}); expected one of {BID_VALUES}")
    return np.clip(out, 0.0, 1.0)
