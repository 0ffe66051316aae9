#!/usr/bin/env bash
# The quick start: system packages (as root; otherwise the exact apt-get line to run), a .venv with the
# pinned Python dependencies (requirements.lock), then `reproreview demo`, which builds the demo course
# (PDFs, finished artifact runs, reviews) and serves it. Arguments go to `reproreview demo`
# (e.g. --port 8080 --host 0.0.0.0, or --no-serve).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

if ! bash scripts/system-packages.sh --demo; then
  echo "Install those packages, then run scripts/quickstart.sh again." >&2
  exit 1
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $PY =="
  "$PY" -m venv .venv
fi
echo "== installing ReproReview with pinned dependencies (requirements.lock) =="
# torch first and on its own: from a local CPU wheel when pip has one (find-links), so pip never
# fetches a multi-GB CUDA build; the lock pins its version.
.venv/bin/python -m pip install -q --no-compile -c requirements.lock torch
.venv/bin/python -m pip install -q --no-compile -c requirements.lock -e '.[server,demo]'
# pip compiles bytecode file by file on one core (about half of the install's CPU time); compileall does
# the same on every core.
.venv/bin/python -m compileall -q -j0 "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
  >/dev/null || true
echo "== installed in $(( $(date +%s) - start )) s; building the demo =="
exec .venv/bin/reproreview demo "$@"
