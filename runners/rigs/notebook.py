"""The notebook rig: run an experiment's .ipynb with nbclient inside the sandbox.

The runner copies ``notebook_exec.py`` next to the artifact (``.reproreview/``) and runs it with
this interpreter inside bwrap, so the kernel is as confined as any other experiment command.
Parameters from the manifest are injected after the cell tagged ``parameters`` (papermill's
convention); the executed notebook is kept as ``.reproreview/<id>.out.ipynb``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from app.artifacts.manifest import Experiment

__all__ = ["notebook_command", "EXEC_SCRIPT"]

EXEC_SCRIPT = Path(__file__).with_name("notebook_exec.py")
RUNNER_DIR = ".reproreview"


def notebook_command(art: Path, experiment: Experiment, *, timeout_s: float | None = None) -> list[str]:
    """Write the helper and parameters into the workdir; return the argv that executes the notebook there."""
    if not experiment.notebook:
        raise ValueError(f"experiment {experiment.id} has no notebook")
    runner_dir = art / RUNNER_DIR
    runner_dir.mkdir(exist_ok=True)
    script = runner_dir / EXEC_SCRIPT.name
    shutil.copyfile(EXEC_SCRIPT, script)
    params = runner_dir / f"{experiment.id}.params.json"
    params.write_text(json.dumps(experiment.parameters, default=str), encoding="utf-8")
    out = runner_dir / f"{experiment.id}.out.ipynb"
    if os.geteuid() == 0:
        for p in (runner_dir, script, params):
            os.chown(p, 65534, 65534)
    argv = [sys.executable, str(script), str(art / experiment.notebook), str(params), str(out)]
    if timeout_s:
        argv.append(str(timeout_s))
    return argv
