"""Schema migrations through Alembic, and the start-up check that the database is current."""

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from app.settings import ROOT


class DatabaseNotMigrated(RuntimeError):
    """The database schema is missing or older than this code."""


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at url to revision."""
    command.upgrade(alembic_config(url), revision)


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def ensure_migrated(engine: Engine) -> None:
    """Raise DatabaseNotMigrated with a message telling the operator what to run."""
    url = engine.url.render_as_string(hide_password=False)
    head = head_revision(url)
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        state = "has no schema" if current is None else f"is at revision {current}, the code needs {head}"
        raise DatabaseNotMigrated(
            f"The database {where} {state}. Run `reproreview db upgrade` (same REPROREVIEW_DATABASE_URL) first."
        )
