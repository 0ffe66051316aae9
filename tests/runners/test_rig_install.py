"""A rig installs and starts without the server: `reproreview[rig]` pulls no server package, and the
`worker` and `reproduce` commands import nothing of the server (no FastAPI, SQLModel, database or services)."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = {"fastapi", "uvicorn", "sqlmodel", "sqlalchemy", "alembic", "torch", "sentence-transformers", "ortools",
               "scipy", "pydantic-settings", "psycopg"}


def _requirements(extra: str | None) -> set[str]:
    """The distribution names `pip install reproreview[extra]` asks for (self-references expanded)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names, todo, seen = set(), [*project["dependencies"]], set()
    todo += project["optional-dependencies"][extra] if extra else []
    while todo:
        req = todo.pop()
        name = re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower()
        if name == "reproreview":
            for e in re.search(r"\[(.*)\]", req).group(1).split(","):
                if e.strip() not in seen:
                    seen.add(e.strip())
                    todo += project["optional-dependencies"][e.strip()]
        else:
            names.add(name)
    return names


def test_a_rig_install_pulls_no_server_package():
    for extra in (None, "rig", "rig-notebook", "rig-mcu"):
        assert not _requirements(extra) & SERVER_ONLY, extra
    assert _requirements("rig-gpu") & SERVER_ONLY == {"torch"}  # gpu artifacts run on the rig's torch
    assert {"fastapi", "sqlmodel", "ortools", "torch", "nbclient", "pyserial"} <= _requirements("server")
    assert _requirements("server") <= _requirements("test")


def test_worker_and_reproduce_import_nothing_of_the_server():
    code = """
import json, sys
from app import cli
for command in ("worker", "reproduce"):
    try:
        cli.main([command, "--help"])
    except SystemExit:
        pass
print(json.dumps(sorted(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    modules = json.loads(out.stdout.splitlines()[-1])
    assert "runners.worker" in modules and "runners.reproduce" in modules
    server = [m for m in modules if m.split(".")[0] in {"fastapi", "starlette", "sqlmodel", "sqlalchemy", "pydantic",
                                                        "torch", "ortools", "sentence_transformers", "uvicorn"}
              or re.match(r"app\.(db|models|services|jobs|settings|routers|main)\b", m)]
    assert server == []
