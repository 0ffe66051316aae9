"""Embeddings: chunking, caches, and the real MiniLM model (offline) with only uncached texts encoded."""

import os
from pathlib import Path

import numpy as np
import pytest

from app.assignment import embeddings
from app.assignment.embeddings import (DEFAULT_MODEL, FileEmbeddingCache, MemoryEmbeddingCache, cache_key,
                                       chunk_text, embed_texts)

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_chunk_text() -> None:
    text = " ".join(f"w{i}" for i in range(10))
    assert chunk_text(text, 4) == ["w0 w1 w2 w3", "w4 w5 w6 w7", "w8 w9"]
    assert chunk_text(text, 4, max_chunks=2) == ["w0 w1 w2 w3", "w4 w5 w6 w7"]
    assert chunk_text("  a\n\tb  ", 10) == ["a b"]
    assert chunk_text("   ", 5) == []
    with pytest.raises(ValueError):
        chunk_text("a", 0)


def test_cache_key_depends_on_model_and_text() -> None:
    assert cache_key("m", "t") != cache_key("m2", "t") != cache_key("m", "t2")
    assert cache_key("m", "t") == cache_key("m", "t") and len(cache_key("m", "t")) == 64


def test_file_cache_round_trip_atomic_and_tolerant(tmp_path: Path) -> None:
    cache = FileEmbeddingCache(tmp_path / "emb")
    k1, k2 = cache_key("m", "a"), cache_key("m", "b")
    assert cache.get_many([k1]) == {}
    cache.put_many({k1: np.arange(4, dtype=np.float64), k2: np.ones(4)})
    got = cache.get_many([k1, k2, cache_key("m", "c")])
    assert set(got) == {k1, k2} and got[k1].dtype == np.float32
    np.testing.assert_array_equal(got[k1], np.arange(4))
    assert not list((tmp_path / "emb").rglob(".tmp-*"))  # no temp files left behind
    (tmp_path / "emb" / k2[:2] / f"{k2}.npy").write_bytes(b"garbage")  # a torn file is a miss, not a crash
    assert set(cache.get_many([k1, k2])) == {k1}
    with pytest.raises(ValueError):
        cache.get_many(["../../etc/passwd"])


def test_memory_cache() -> None:
    cache = MemoryEmbeddingCache()
    cache.put_many({"ab": np.ones(3)})
    assert set(cache.get_many(["ab", "cd"])) == {"ab"}


class FakeModel:
    """Stands in for the encoder: deterministic vectors, counts chunks encoded."""

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def __call__(self, chunks: list[str], model_name: str = DEFAULT_MODEL) -> np.ndarray:
        self.encoded.extend(chunks)
        out = np.array([[len(c), c.count("a") + 1, 1.0] for c in chunks], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_only_uncached_texts_are_encoded_and_long_texts_are_chunked(monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    fake = FakeModel()
    monkeypatch.setattr(embeddings, "encode_chunks", fake)
    cache = FileEmbeddingCache(tmp_path)
    long_text = " ".join(["word"] * 450)
    calls = []
    first = embed_texts(["alpha", "beta", long_text, "alpha"], cache=cache, max_words=200,
                        progress=lambda d, t: calls.append((d, t)))
    assert len(fake.encoded) == 1 + 1 + 3  # duplicate "alpha" once, the long text as 3 chunks
    assert calls[-1] == (4, 4) and all(t == 4 for _, t in calls)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(first[0], first[3])
    fake.encoded.clear()
    second = embed_texts(["alpha", "beta", long_text, "alpha"], cache=cache, max_words=200)
    assert fake.encoded == []  # everything came from the cache
    np.testing.assert_allclose(first, second)
    embed_texts(["beta", "gamma"], cache=cache, max_words=200)
    assert fake.encoded == ["gamma"]
    fake.encoded.clear()
    embed_texts(["beta"], cache=cache, max_words=50)  # other chunking, other vectors: not a cache hit
    assert fake.encoded == ["beta"]
    assert set(cache.get_many([cache_key(DEFAULT_MODEL, "beta")])) == {cache_key(DEFAULT_MODEL, "beta")}


def test_blank_text_gets_zero_vector(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(embeddings, "encode_chunks", FakeModel())
    out = embed_texts(["abc", "   "])
    assert np.linalg.norm(out[1]) == 0 and np.linalg.norm(out[0]) == pytest.approx(1)
    assert embed_texts([], cache=MemoryEmbeddingCache()).shape[0] == 0


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown embedding model"):
        embeddings.model_path("no-such-model-anywhere")


@pytest.mark.slow
def test_real_model_cache_second_call_encodes_nothing(monkeypatch) -> None:  # noqa: ANN001
    real = embeddings.encode_chunks
    count = []
    monkeypatch.setattr(embeddings, "encode_chunks", lambda chunks, model_name=DEFAULT_MODEL: (
        count.append(len(chunks)), real(chunks, model_name))[1])
    cache = MemoryEmbeddingCache()
    texts = ["Federated averaging across 20 simulated clients", "A Triton kernel for layer norm"]
    a = embed_texts(texts, cache=cache)
    assert sum(count) == 2 and a.shape == (2, 384)
    b = embed_texts(texts, cache=cache)
    assert sum(count) == 2
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)


def test_the_app_starts_without_importing_sentence_transformers() -> None:
    """Importing the app, the CLI and the assignment code must not import the model stack (~7 s): it is loaded
    only when something must be encoded."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys\nimport app.main, app.cli, app.routers.assignments, app.services.assignments\n"
            "import app.assignment.affinity, app.assignment.solver, app.assignment.embeddings\n"
            "app.main.create_app\n"
            "print(sorted(m for m in ('sentence_transformers', 'torch', 'transformers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
