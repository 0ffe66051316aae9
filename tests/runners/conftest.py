"""Helpers for runner tests: small real artifacts written into tmp dirs."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from runners.sandbox import SandboxLimits, bwrap_available

HAS_BWRAP = bwrap_available()
needs_bwrap = pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap (bwrap) cannot create namespaces here")

# Tight limits so the hostile artifacts end fast; generous enough for numpy and a Jupyter kernel.
TEST_LIMITS = SandboxLimits(wall_s=60, cpu_s=60, memory_bytes=2 * 1024**3, file_size_bytes=16 * 1024**2,
                            nproc=128, output_bytes=256 * 1024)

TRAIN_PY = """
import json, os
import numpy as np

rng = np.random.default_rng(0)
n = 2000
X = rng.normal(size=(n, 5))
w_true = rng.normal(size=5)
y = (X @ w_true + 0.3 * rng.normal(size=n) > 0).astype(float)
w = np.zeros(5)
for _ in range(300):
    p = 1 / (1 + np.exp(-(X @ w)))
    w -= 0.5 * X.T @ (p - y) / n
acc = float(((X @ w > 0) == (y > 0.5)).mean())
os.makedirs("results", exist_ok=True)
with open("results/e1.json", "w") as f:
    json.dump({"accuracy": acc, "loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))}, f)
print("accuracy", acc)
"""


def write_artifact(root: Path, manifest: str, files: dict[str, str] | None = None) -> Path:
    """An artifact directory: reproduce.toml plus the given files (dedented)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "reproduce.toml").write_text(textwrap.dedent(manifest).lstrip(), encoding="utf-8")
    for name, text in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def logreg_artifact(root: Path, *, claimed: float, direction: str = "at_least", tolerance: str = '"2%"') -> Path:
    return write_artifact(root, f"""
        [artifact]
        rig = "local"
        timeout = "2m"

        [[experiment]]
        id = "E1"
        command = "python train.py"
        metrics = "results/e1.json"
        timeout = "60s"

        [[claim]]
        id = "C1"
        text = "Logistic regression reaches this accuracy"
        page = 4
        experiment = "E1"
        metric = "accuracy"
        value = {claimed}
        direction = "{direction}"
        tolerance = {tolerance}
        """, {"train.py": TRAIN_PY})


def command_artifact(root: Path, command: str, *, timeout: str = "30s", files: dict[str, str] | None = None,
                     setup: str = "") -> Path:
    """One experiment running ``command`` (a TOML literal string, so no escaping worries)."""
    assert "'''" not in command
    manifest = (f'[artifact]\ntimeout = "2m"\n\n{textwrap.dedent(setup)}\n'
                f'[[experiment]]\nid = "E1"\ncommand = \'\'\'{command}\'\'\'\nmetrics = "m.json"\n'
                f'timeout = "{timeout}"\n')
    return write_artifact(root, manifest, files)


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def processes_of_uid(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found.append(int(entry))
            except OSError:
                continue
    return found
