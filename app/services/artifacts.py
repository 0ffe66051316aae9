"""A submission's code artifacts: the blob store their snapshots live in, and which artifact is current.

Below submissions, anonymization, runs and badges, which all read them (so none of those imports another
to find the current artifact). Takes a session and never commits.
"""

from sqlmodel import Session, select

from app.models import Artifact, Submission
from app.settings import Settings
from app.storage import BlobStore

__all__ = ["store", "current_artifact", "artifacts"]


def store(settings: Settings) -> BlobStore:
    """The content-addressed store of snapshots, anonymized views and PDFs."""
    return BlobStore(settings.data_dir / "blobs")


def current_artifact(session: Session, submission: Submission) -> Artifact | None:
    return session.exec(select(Artifact).where(Artifact.submission_id == submission.id)
                        .order_by(Artifact.created_at.desc(), Artifact.id.desc())).first()


def artifacts(session: Session, submission: Submission) -> list[Artifact]:
    return list(session.exec(select(Artifact).where(Artifact.submission_id == submission.id)
                             .order_by(Artifact.created_at.desc(), Artifact.id.desc())).all())
