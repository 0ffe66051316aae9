"""Collecting debris in the blob store: blobs no row references (a crash between storing a PDF's blobs and
writing its revision row) and temp files of crashed writers. `reproreview gc` runs it (from cron too).

Safe beside live uploads: a blob is a candidate only when it was last stored longer ago than the grace period
(storing the same bytes again renews its time, see BlobStore._reuse), the rows are read after the candidates
are listed, and each removal re-checks the time after renaming the blob away (BlobStore.remove_if_older).
Reads only: no transaction is changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlmodel import Session, select

from app.models import Artifact, Revision
from app.storage import BlobStore

__all__ = ["BLOB_COLUMNS", "DEFAULT_GRACE_S", "GcReport", "collect_garbage", "referenced_blobs"]

DEFAULT_GRACE_S = 3600.0
# Every column that holds a blob id; a new one must be added here, or gc would collect its blobs.
BLOB_COLUMNS = ((Revision, "blob_sha"), (Revision, "reviewer_blob_sha"),
                (Artifact, "snapshot_sha"), (Artifact, "anonymized_sha"))


@dataclass
class GcReport:
    removed: list[str] = field(default_factory=list)     # unreferenced, older than the grace period
    young: list[str] = field(default_factory=list)       # unreferenced but recent: perhaps an upload in progress
    referenced: int = 0                                  # blobs kept because a row names them
    freed_bytes: int = 0
    temp_removed: int = 0                                # .tmp-* leftovers of crashed writers


def referenced_blobs(session: Session) -> set[str]:
    """Every blob id some row names."""
    found: set[str] = set()
    for model, column in BLOB_COLUMNS:
        found.update(sha for sha in session.exec(select(getattr(model, column))).all() if sha)
    return found


def collect_garbage(session: Session, blobs: BlobStore, *, grace_s: float = DEFAULT_GRACE_S,
                    dry_run: bool = False, now: float | None = None) -> GcReport:
    """Remove blobs older than `grace_s` that no row references, and temp files older than `grace_s`."""
    cutoff = (now if now is not None else time.time()) - grace_s
    report = GcReport()
    candidates = []
    for sha in sorted(blobs.iter_blobs()):  # listed BEFORE the rows are read: a row committed later is seen
        try:
            candidates.append((sha, blobs.blob_mtime(sha), blobs.size(sha)))
        except FileNotFoundError:
            continue
    used = referenced_blobs(session)
    session.rollback()  # hold no read transaction while files are removed
    for sha, mtime, size in candidates:
        if sha in used:
            report.referenced += 1
        elif mtime >= cutoff:
            report.young.append(sha)
        elif dry_run or blobs.remove_if_older(sha, cutoff):
            report.removed.append(sha)
            report.freed_bytes += size
        else:
            report.young.append(sha)  # stored again while we looked
    if not dry_run:
        report.temp_removed = blobs.cleanup_temp(older_than_s=grace_s)
    return report
