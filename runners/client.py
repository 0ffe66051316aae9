"""The rig's side of the API: an httpx client authenticated with a `rig_…` token (runners never touch the database)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx


class RigApiError(Exception):
    """The API refused a rig request; `status` is the HTTP status (409: the run is not ours any more)."""

    def __init__(self, status: int, detail: str, code: str | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.code = code  # the API's error code, e.g. "too-few-gpus"


class RigClient:
    """Claim runs, download bundles, post log chunks, heartbeats and results over HTTP."""

    def __init__(self, api_url: str, token: str, *, timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None,
                 retries: int = 3) -> None:
        self.api_url = api_url.rstrip("/")
        self.retries = retries
        self._http = httpx.Client(base_url=self.api_url, headers={"Authorization": f"Bearer {token}"},
                                  timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:  # noqa: ANN003
        """One call, retried on connection errors and 5xx (log chunks carry a seq, so a resend is harmless)."""
        for attempt in range(self.retries + 1):
            try:
                r = self._http.request(method, f"/api/v1/rig{path}", **kwargs)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise RigApiError(0, f"the API at {self.api_url} cannot be reached: {exc}") from exc
            else:
                if r.status_code < 500 or attempt == self.retries:
                    break
            time.sleep(0.2 * 2 ** attempt)
        if r.status_code >= 400:
            code = None
            try:
                body = r.json()
                detail, code = body.get("detail", r.text), body.get("code")
            except (ValueError, AttributeError):
                detail = r.text
            raise RigApiError(r.status_code, str(detail)[:500], code)
        return r

    def heartbeat(self, facts: dict | None = None) -> dict:
        return self._request("POST", "/heartbeat", json={"facts": facts or {}}).json()

    def claim(self, run_id: int) -> dict:
        return self._request("POST", f"/runs/{run_id}/claim").json()

    def bundle(self, run_id: int, dest: Path) -> Path:
        """Download the run's original snapshot (.tar.gz) to dest."""
        with self._http.stream("GET", f"/api/v1/rig/runs/{run_id}/bundle") as r:
            if r.status_code >= 400:
                r.read()
                raise RigApiError(r.status_code, r.text[:500])
            with open(dest, "wb") as f:
                for chunk in r.iter_bytes(256 * 1024):
                    f.write(chunk)
        return dest

    def log(self, run_id: int, text: str, seq: int) -> dict:
        return self._request("POST", f"/runs/{run_id}/log", json={"text": text, "seq": seq}).json()

    def run_heartbeat(self, run_id: int) -> dict:
        return self._request("POST", f"/runs/{run_id}/heartbeat").json()

    def result(self, run_id: int, result: dict) -> dict:
        return self._request("POST", f"/runs/{run_id}/result", json=result).json()
