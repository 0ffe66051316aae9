"""Where rig jobs wait: one arq queue per rig kind, named here once (the API enqueues, workers listen).

The rig kinds themselves are the kernel's list (`app.artifacts.manifest.RIGS`), which reproduce.toml's
`[artifact] rig` is checked against.
"""

from app.artifacts.manifest import RIGS

__all__ = ["QUEUE_PREFIX", "JOB_NAME", "RIG_KINDS", "queue_name"]

QUEUE_PREFIX = "reproreview:"
JOB_NAME = "run_artifact"  # the arq function a rig worker registers and the API enqueues
RIG_KINDS = RIGS  # none is called "server": queue_name("server") is the API's background queue (app.jobs.background)


def queue_name(rig_kind: str) -> str:
    return f"{QUEUE_PREFIX}{rig_kind}"
