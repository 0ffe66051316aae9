"""Assignment jobs: a solve (a preview or an apply) recorded as an `AssignmentJob` row whose phase and progress
(texts embedded / total) the job writes as it goes, so any API process can report it.

The service records the row and, in the same transaction, "start job assignment_solve" (app.outbox); the
boundary (app.jobs.assignments) starts it once the row is committed, runs the solve and owns its commits.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app import outbox
from app.errors import BadInput, Conflict as ConflictError, DomainError, NotFound
from app.models import Submission, User, Venue
from app.models.assignment import AssignmentJob, JobStatus, Origin
from app.services.assignments.changes import AssignmentPlan, Change, apply_plan
from app.services.assignments.profiles import member_labels
from app.settings import Settings

SOLVE_JOB = "assignment_solve"  # the background job's name (app.jobs.background)
# A process that holds a job (running it, or waiting for its solve lock) beats every 10 s
# (app.jobs.assignments.HEARTBEAT_EVERY_S): 45 s without a beat and that process is gone, so a killed API's
# preview no longer blocks the next one for long. A queued job nobody took yet (waiting on the queue for a
# worker) has no heartbeat; it is given up only after QUEUED_STALE_AFTER.
JOB_STALE_AFTER = timedelta(seconds=45)
QUEUED_STALE_AFTER = timedelta(minutes=15)
ACTIVE = (JobStatus.queued.value, JobStatus.running.value)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def background_job_id(job_id: int) -> str:
    """The queue's id for a job row: submitting the same row twice starts it once."""
    return f"assignment-{job_id}"


def is_stale(job: AssignmentJob, now: datetime | None = None) -> bool:
    """Whether the process that held this active job is gone (or nobody ever took a queued one)."""
    if job.status not in ACTIVE:
        return False
    if job.heartbeat_at is None:
        return (now or _utcnow()) - _aware(job.created_at) > QUEUED_STALE_AFTER
    return (now or _utcnow()) - _aware(job.heartbeat_at) > JOB_STALE_AFTER


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives naive UTC back


def is_finished(job: AssignmentJob) -> bool:
    return job.status in (JobStatus.done.value, JobStatus.failed.value)


def job_view(job: AssignmentJob) -> dict:
    """The job as the API and the page show it (a stale job reads as failed)."""
    stale = is_stale(job)
    status = JobStatus.failed.value if stale else job.status
    return {"id": job.id, "dry_run": job.dry_run, "params": job.params, "status": status,
            "finished": status in (JobStatus.done.value, JobStatus.failed.value),
            "phase": "failed" if stale else job.phase, "done": job.done, "total": job.total,
            "error": "The process running this job stopped; start it again." if stale else job.error,
            "result": job.result, "created_at": job.created_at, "finished_at": job.finished_at,
            "applied_at": job.applied_at}


def start_job(session: Session, settings: Settings, actor: User, venue: Venue, *, k: int, min_load: int,
              max_load: int, include_tas: bool = False, fair: bool = False, keep_existing: bool = True,
              dry_run: bool = True) -> AssignmentJob:
    """Record a solve job (queued); it starts once the caller commits (never before: it would not find its row)."""
    if not 1 <= k <= 20:
        raise BadInput(f"k (reviewers per submission) must be between 1 and 20, not {k}.")
    if min_load < 0:
        raise BadInput("min load cannot be negative.")
    if max_load < 1:
        raise BadInput("max load must be at least 1: with max load 0 no reviewer may take any submission.")
    if min_load > max_load:
        raise BadInput(f"min load {min_load} is above max load {max_load}.")
    for job in session.exec(select(AssignmentJob).where(AssignmentJob.venue_id == venue.id,
                                                        AssignmentJob.status.in_(ACTIVE))).all():
        if not is_stale(job):
            raise ConflictError(f"An assignment job is already {job.status} (job {job.id}): wait for it to finish.")
        job.status, job.phase, job.error = JobStatus.failed.value, "failed", "The process running it stopped."
        session.add(job)
    job = AssignmentJob(venue_id=venue.id, requested_by=actor.id, dry_run=dry_run,
                        params={"k": k, "min_load": min_load, "max_load": max_load, "include_tas": include_tas,
                                "fair": fair, "keep_existing": keep_existing})
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:  # another process started one between our check and our insert
        raise ConflictError("An assignment job was just started by someone else: wait for it to finish.") from None
    outbox.after_commit(session, "job", name=SOLVE_JOB, args=[job.id], job_id=background_job_id(job.id),
                        settings=settings)
    return job


def get_job(session: Session, venue: Venue, job_id: int) -> AssignmentJob:
    job = session.get(AssignmentJob, job_id)
    if job is None or job.venue_id != venue.id:
        raise NotFound(f"There is no assignment job {job_id} in this venue.")
    return job


def latest_job(session: Session, venue: Venue) -> AssignmentJob | None:
    return session.exec(select(AssignmentJob).where(AssignmentJob.venue_id == venue.id)
                        .order_by(AssignmentJob.id.desc())).first()


def active_jobs(session: Session) -> list[AssignmentJob]:
    """Every queued or running job of every venue (a worker starting up hands on those nobody runs)."""
    return list(session.exec(select(AssignmentJob).where(AssignmentJob.status.in_(ACTIVE))
                             .order_by(AssignmentJob.id)).all())


def plan_result(session: Session, plan: AssignmentPlan) -> dict:
    """What a finished job keeps: the stats, the quality summary and the changes with numbers and emails."""
    subs = {s.id: s for s in session.exec(select(Submission).where(
        Submission.id.in_({c.submission_id for c in plan.changes} or {0}))).all()}
    numbers = {i: s.number for i, s in subs.items()}
    labels = member_labels(session, {c.member_id for c in plan.changes})
    return {"stats": plan.stats, "summary": plan.summary, "values": [round(v, 4) for v in plan.values],
            "changes": [{"op": c.op, "submission_id": c.submission_id, "submission": numbers.get(c.submission_id),
                         "member_id": c.member_id, "reviewer": labels.get(c.member_id, str(c.member_id)),
                         "affinity": None if c.affinity is None else round(c.affinity, 4)} for c in plan.changes]}


def update_job(session: Session, job_id: int, **fields) -> AssignmentJob:  # noqa: ANN003
    """Write a job's phase/progress fields and its heartbeat (the boundary commits it at once)."""
    job = session.get(AssignmentJob, job_id)
    for key, value in fields.items():
        setattr(job, key, value)
    job.heartbeat_at = _utcnow()
    session.add(job)
    return job


def finish_job(session: Session, job_id: int, plan: AssignmentPlan, result: dict) -> AssignmentJob:
    """Save a solved job: apply its plan unless it is a preview, and mark it done with its result."""
    job = session.get(AssignmentJob, job_id)
    session.refresh(job)
    if not job.dry_run:
        venue = session.get(Venue, job.venue_id)
        actor = session.get(User, job.requested_by) if job.requested_by else None
        apply_plan(session, actor, venue, plan.changes, plan.stats, note=f" (job {job_id})")
    job.status, job.phase, job.result, job.error = JobStatus.done.value, "done", result, None
    job.finished_at = job.heartbeat_at = _utcnow()
    if not job.dry_run:
        job.applied_at = job.finished_at
    session.add(job)
    return job


def failure_message(exc: DomainError) -> str:
    """What a failed job says to the chair."""
    return f"No assignment is possible: {exc.message}" if exc.code == "infeasible" else exc.message


def apply_preview(session: Session, actor: User, venue: Venue, job: AssignmentJob) -> AssignmentJob:
    """Apply exactly the changes a finished preview showed (checked again against the current state)."""
    view = job_view(job)
    if not job.dry_run or view["status"] != JobStatus.done.value:
        raise BadInput("Only a finished preview can be applied.")
    if job.applied_at is not None:
        raise ConflictError("This preview is applied already.")
    newer = latest_job(session, venue)
    if newer is not None and newer.id != job.id:
        raise ConflictError("A newer assignment job exists: apply that one, or preview again.")
    changes = [Change(c["op"], c["submission_id"], c["member_id"], Origin.auto.value, c.get("affinity"))
               for c in job.result.get("changes", [])]
    apply_plan(session, actor, venue, changes, job.result["stats"], note=f" (preview {job.id})")
    job.applied_at = _utcnow()
    session.add(job)
    session.flush()
    return job
