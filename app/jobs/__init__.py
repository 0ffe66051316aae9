"""The boundary that owns sessions, commits, threads and queues (DESIGN.md's architecture).

Importing `app.jobs` registers every after-commit handler (app.outbox) and background job; the API
(app.main) and the CLI import it so that what services record is carried out.
"""

from app.jobs import assignments, background, digest, mail, runs, sweep  # noqa: F401
