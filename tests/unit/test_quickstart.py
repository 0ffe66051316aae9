"""The quick start's pieces: one list of Debian packages (scripts/system-packages.sh) that says exactly what to
install when it cannot, used by the quick start and CI alike, and a lock that pins every dependency."""

import re
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "system-packages.sh"


def _packages(*args: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", str(SCRIPT), *args], env={"PATH": path}, capture_output=True, text=True,
                          timeout=30)


def test_missing_packages_are_named_with_the_exact_apt_line_and_nothing_is_installed(tmp_path):  # noqa: ANN001
    empty = tmp_path / "bin"  # a PATH where no tool is found
    empty.mkdir()
    demo = _packages("--demo", "--check", path=str(empty))
    assert demo.returncode == 1
    assert "sudo apt-get install -y --no-install-recommends bubblewrap git" in demo.stderr
    ci = _packages("--ci", "--check", path=str(empty))
    assert ci.returncode == 1
    assert ("apt-get install -y --no-install-recommends bubblewrap git chromium qemu-system-arm gcc-arm-none-eabi "
            "libnewlib-arm-none-eabi") in ci.stderr
    assert _packages("--bogus", path=str(empty)).returncode == 2


def test_nothing_to_do_when_the_tools_are_there(tmp_path):  # noqa: ANN001
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("bwrap", "git"):
        (tools / name).write_text("#!/bin/sh\n")
        (tools / name).chmod(0o755)
    r = _packages("--demo", path=str(tools))
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""


def test_quick_start_and_ci_share_the_package_list_and_the_lock():
    for script in (ROOT / "scripts" / "quickstart.sh", ROOT / ".ci" / "run"):
        text = script.read_text()
        assert "scripts/system-packages.sh" in text, script
        assert not re.search(r"^\s*(sudo\s+)?apt-get", text, re.M), f"{script} has its own apt list"
        assert text.count("-c requirements.lock") == 2, script  # torch first, then the project


def test_the_lock_pins_every_dependency_of_the_project():
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version and re.fullmatch(r"[0-9][0-9A-Za-z.!+-]*", version), line
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + [s for extra in project["optional-dependencies"].values() for s in extra]
    for spec in specs:
        req = Requirement(spec)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name == "reproreview":
            continue
        assert name in pins, f"{req.name} is not in requirements.lock: run scripts/lock.py"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} breaks {spec}"
