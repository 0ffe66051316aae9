"""The run sweep, the one there is: runs whose rig went silent are re-queued (or failed after their last
attempt) and handed to a rig again; runs queued longer than a grace period that the queue lost (Redis
restarted or flushed, an enqueue that failed after its commit) are enqueued again.

Called on rig heartbeats and run pages (any API process may sweep: the state is in the database and Redis
only) and by `reproreview sweep-runs` (cron). It owns the commits of the session it is given: the
re-queued runs are recorded in the outbox and go to the queue when it commits, and no transaction stays
open while Redis answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Connection
from sqlmodel import Session

from app import outbox
from app.jobs.runs import recover_lost_runs
from app.models.run import Run
from app.services import runs as run_service
from app.settings import Settings

__all__ = ["SweepReport", "sweep_runs"]


@dataclass
class SweepReport:
    requeued: list[int] = field(default_factory=list)   # silent rigs' runs, back on the queue
    recovered: list[int] = field(default_factory=list)  # queued runs the queue had lost, enqueued again


def sweep_runs(settings: Settings, session: Session, *, embedded: bool = True) -> SweepReport:
    """Sweep once; commits `session` when it changed or found something to enqueue.

    `embedded`: whether this process runs the embedded rig when no Redis is configured (the API does; the
    CLI does not, so without Redis it only re-queues, and the API's next sweep hands those runs on)."""
    requeued = run_service.expire_stale_runs(session, ttl_s=run_service.HEARTBEAT_TTL_S,
                                             max_attempts=run_service.MAX_ATTEMPTS)
    hand_on = bool(settings.redis_url) or embedded
    if hand_on:
        for run_id in requeued:
            run_service.enqueue_after_commit(session, settings, session.get(Run, run_id))
    lost = [r for r in run_service.queued_runs(session, older_than_s=run_service.LOST_GRACE_S)
            if r[0] not in requeued]
    if not (requeued or lost):
        return SweepReport()
    bind = session.get_bind()
    session.commit()
    if not hand_on or not lost or outbox.is_outer_transaction(bind):
        return SweepReport(requeued=requeued)  # inside a test's transaction nothing is handed to a rig
    engine = bind.engine if isinstance(bind, Connection) else bind
    return SweepReport(requeued=requeued, recovered=recover_lost_runs(settings, lost, engine=engine))
