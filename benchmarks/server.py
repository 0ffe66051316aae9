"""`reproreview serve` as a subprocess for the benchmarks: started on a free port, ready when /healthz answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.live import free_port

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve(database_url: str, data_dir: Path, *, workers: int, log_path: Path,
          extra_env: dict[str, str] | None = None, ready_s: float = 30.0) -> Iterator[str]:
    """Yield the server's base URL; the server's output goes to `log_path` (an unread pipe would block it)."""
    import httpx

    port = free_port()
    env = {**os.environ, "REPROREVIEW_DATABASE_URL": database_url, "REPROREVIEW_DATA_DIR": str(data_dir),
           "REPROREVIEW_SECRET_KEY": "bench", **(extra_env or {})}
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers",
                                   str(workers)], cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + ready_s
            while time.monotonic() < deadline:
                try:
                    httpx.get(base + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            server.wait(20)
