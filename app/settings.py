"""Settings from the environment (REPROREVIEW_*) with an embedded default: SQLite + files under a data dir."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """One settings object for the service, the CLI and the workers."""

    model_config = SettingsConfigDict(env_prefix="REPROREVIEW_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Uploaded files, embeddings cache, outbox.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir.")
    redis_url: str | None = Field(default=None, description="arq queue; unset runs artifacts in-process.")
    secret_key: str | None = Field(default=None, description="Signs sessions and reset tokens.")
    base_url: str = "http://127.0.0.1:8000"
    session_max_age_s: int = 14 * 24 * 3600
    secure_cookies: bool = False

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "ReproReview <noreply@reproreview.local>"

    login_max_failures: int = 5  # per (address, IP) in login_window_s; 4x per IP over all addresses
    login_window_s: int = 15 * 60
    login_address_max_failures: int = 20  # per address across IPs: then a delay from login_backoff_s, doubling
    login_backoff_s: int = 60
    reset_mail_max_per_hour: int = 3
    reset_token_max_age_s: int = 3600

    roster_max_bytes: int = 2 * 1024 * 1024
    pdf_max_bytes: int = 50 * 1024 * 1024
    artifact_max_bytes: int = 200 * 1024 * 1024
    artifact_max_files: int = 20_000
    # Local paths / file:// repository URLs: only for tests and single-user setups (students could
    # otherwise snapshot any repository on the server's disk).
    allow_local_repos: bool = False
    embedding_model: str = "all-MiniLM-L6-v2"
    embed_ahead: bool = True  # embed a text for the assignment when it is saved (background job), not at Preview

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or SQLite in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'reproreview.db').resolve()}"

    @property
    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data dir (never in memory only)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            import secrets

            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            tmp.replace(path)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
