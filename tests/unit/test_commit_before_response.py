"""The request commits before its response is sent: a failed commit is an error the client sees, never a 200."""

from fastapi import Request
from fastapi.testclient import TestClient

from app.db import SessionDep, defer_write
from app.main import create_app
from app.settings import Settings


def test_a_commit_that_fails_turns_the_response_into_an_error(tmp_path, engine):  # noqa: ANN001
    app = create_app(Settings(data_dir=tmp_path, _env_file=None), engine=engine)

    def broken_commit(session) -> None:  # noqa: ANN001
        raise RuntimeError("the database refused the commit")

    @app.get("/_probe/commit")
    def probe(request: Request, session: SessionDep) -> dict:
        defer_write(request, broken_commit)
        return {"ok": True}

    @app.get("/_probe/fine")
    def fine(request: Request, session: SessionDep) -> dict:
        return {"ok": True}

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/_probe/fine").status_code == 200
    assert client.get("/_probe/commit").status_code == 500
