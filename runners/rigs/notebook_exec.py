"""Execute one notebook with nbclient, papermill-style parameters injected; runs INSIDE the sandbox.

    python notebook_exec.py NOTEBOOK PARAMS_JSON OUT_NOTEBOOK [CELL_TIMEOUT_S]

Stream output of each cell is printed as the cell finishes, so the run log shows progress.
Exit 0 when every cell ran, 1 when a cell raised (the traceback is printed), 2 on bad input.
"""

from __future__ import annotations

import json
import sys


def parameters_source(params: dict) -> str:
    """The injected cell's code: one assignment per parameter."""
    lines = ["# Parameters (injected by ReproReview)"]
    for name, value in params.items():
        if not str(name).isidentifier():
            raise ValueError(f"parameter name {name!r} is not a Python identifier")
        lines.append(f"{name} = {value!r}")
    return "\n".join(lines) + "\n"


def inject_parameters(nb, params: dict) -> int:
    """Insert the parameters cell after the cell tagged ``parameters`` (or first); returns its index."""
    import nbformat

    cell = nbformat.v4.new_code_cell(parameters_source(params))
    cell.metadata["tags"] = ["injected-parameters"]
    at = 0
    for i, c in enumerate(nb.cells):
        if "parameters" in c.get("metadata", {}).get("tags", []):
            at = i + 1
            break
    nb.cells.insert(at, cell)
    return at


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    src, params_path, out = argv[:3]
    timeout = max(1, int(float(argv[3]))) if len(argv) == 4 else None
    try:
        nb = nbformat.read(src, as_version=4)
        with open(params_path, encoding="utf-8") as f:
            params = json.load(f)
        if params:
            inject_parameters(nb, params)
    except Exception as exc:  # noqa: BLE001 - reported to the student as is
        print(f"cannot read notebook {src}: {exc}", flush=True)
        return 2

    def on_cell_executed(cell, cell_index, execute_reply, **_kw):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                sys.stdout.write(output.get("text", ""))
            elif output.get("output_type") == "error":
                sys.stdout.write(f"{output.get('ename')}: {output.get('evalue')}\n")
        sys.stdout.flush()

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": "."}}, on_cell_executed=on_cell_executed)
    code = 0
    try:
        client.execute()
    except CellExecutionError as exc:
        print(f"notebook cell failed:\n{exc}", flush=True)
        code = 1
    except (CellTimeoutError, DeadKernelError) as exc:
        print(f"notebook stopped: {type(exc).__name__}: {exc}", flush=True)
        code = 1
    finally:
        try:
            nbformat.write(nb, out)
        except OSError as exc:
            print(f"could not write {out}: {exc}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
