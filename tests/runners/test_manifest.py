"""reproduce.toml parsing: the DESIGN.md example, typos and wrong types with line numbers."""

from __future__ import annotations

import pytest

from app.artifacts.manifest import ManifestError, Tolerance, load_manifest, parse_duration, parse_manifest

DESIGN_EXAMPLE = """\
[artifact]
rig = "gpu"                 # local | gpu | notebook | mcu
timeout = "30m"             # whole run, setup included

[setup]                     # the only step that may use the network
commands = ["pip install -r requirements.txt"]
network = true

[[experiment]]
id = "E1"
command = "python bench.py --out results/e1.json"
metrics = "results/e1.json" # JSON object of name -> number the command writes
timeout = "10m"
gpus = 1                    # gpu rig only; >1 runs multi-GPU (torchrun)

[[claim]]
id = "C1"
text = "Our fused kernel is 3.1x faster than the PyTorch baseline"
page = 6                    # where the paper states it
experiment = "E1"
metric = "speedup"
value = 3.1
direction = "at_least"      # at_least | at_most | about
tolerance = "10%"           # relative ("10%") or absolute (0.02)

[mcu]                       # mcu rig only
board = "nano33ble"         # nano33ble | qemu-mps2-an386
build = "make"              # or "arduino-cli compile --fqbn arduino:mbed_nano:nano33ble"
firmware = "build/firmware.elf"
testset = "data/test.npz"   # inputs and labels sent over the runner protocol
"""


def errors_of(text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(ManifestError) as info:
        parse_manifest(text)
    return [(i.line, i.message) for i in info.value.errors]


def test_design_example_parses():
    m = parse_manifest(DESIGN_EXAMPLE)
    assert m.artifact.rig == "gpu" and m.artifact.timeout_s == 1800
    assert m.setup.commands == ["pip install -r requirements.txt"] and m.setup.network is True
    (e,) = m.experiments
    assert (e.id, e.command, e.metrics, e.timeout_s, e.gpus) == (
        "E1", "python bench.py --out results/e1.json", "results/e1.json", 600, 1)
    (c,) = m.claims
    assert (c.id, c.experiment, c.metric, c.value, c.direction, c.page) == ("C1", "E1", "speedup", 3.1, "at_least", 6)
    assert c.tolerance == Tolerance(0.10, relative=True)
    assert m.mcu.board == "nano33ble" and m.mcu.firmware == "build/firmware.elf"


def test_typo_names_key_line_and_suggestion():
    text = DESIGN_EXAMPLE.replace('command = "python bench.py', 'comand = "python bench.py')
    errs = errors_of(text)
    assert errs == [(11, "unknown key 'comand' in [[experiment]] #1 (line 11); did you mean 'command'?")]


def test_wrong_types_are_reported_with_their_lines():
    text = (DESIGN_EXAMPLE.replace('value = 3.1', 'value = "3.1"').replace('gpus = 1 ', 'gpus = "1"')
            .replace('network = true', 'network = "yes"').replace('timeout = "10m"', 'timeout = "10 minutes"'))
    errs = dict(errors_of(text))
    assert set(errs) == {7, 13, 14, 22}
    assert "'network' in [setup] must be true or false" in errs[7]
    assert "duration" in errs[13]
    assert "'gpus' in [[experiment]] #1 must be an integer, not the string '1'" == errs[14]
    assert "'value' in [[claim]] #1 must be a number" in errs[22]


def test_second_experiment_typo_points_at_its_own_line():
    text = """\
[[experiment]]
id = "E1"
command = "python a.py"
metrics = "a.json"

[[experiment]]
id = "E2"
command = "python b.py"
metrcis = "b.json"
"""
    errs = errors_of(text)
    assert (9, "unknown key 'metrcis' in [[experiment]] #2 (line 9); did you mean 'metrics'?") in errs
    assert any("'metrics' in [[experiment]] #2 is required" in m and line == 6 for line, m in errs)


def test_claim_must_name_existing_experiment_and_ids_are_unique():
    text = DESIGN_EXAMPLE.replace('experiment = "E1"', 'experiment = "E9"') + """
[[claim]]
id = "C1"
experiment = "E1"
metric = "speedup"
value = 2
"""
    errs = errors_of(text)
    messages = " | ".join(m for _, m in errs)
    assert "claim 'C1' names experiment 'E9', which does not exist" in messages
    assert "claim id 'C1' is used twice" in messages
    assert (20, next(m for _, m in errs if "E9" in m)) in errs


def test_bad_direction_tolerance_board_and_unknown_table():
    text = (DESIGN_EXAMPLE.replace('"at_least"', '"atleast"').replace('"10%"', '"10 percent"')
            .replace('board = "nano33ble"', 'board = "esp32"') + '\n[extras]\nfoo = 1\n')
    errs = dict(errors_of(text))
    assert "did you mean 'at_least'" in errs[23]
    assert "percentage" in errs[24]
    assert "board" in errs[27]
    assert any("unknown table or key 'extras'" in m for m in errs.values())


def test_toml_syntax_error_has_line():
    errs = errors_of('[artifact]\nrig = "local"\ntimeout = 30m\n')
    assert errs[0][0] == 3 and "not valid TOML" in errs[0][1]


def test_single_bracket_experiment_and_missing_pieces():
    errs = errors_of('[artifact]\nrig = "mcu"\n\n[experiment]\nid = "E1"\n')
    messages = " | ".join(m for _, m in errs)
    assert "[experiment] must be written [[experiment]]" in messages
    assert 'rig "mcu" needs an [mcu] table' in messages


def test_paths_must_stay_inside_artifact_and_notebook_rules():
    errs = dict(errors_of("""\
[artifact]
rig = "notebook"

[[experiment]]
id = "E1"
notebook = "../outside.ipynb"
metrics = "/etc/passwd"
"""))
    assert "relative path inside the artifact" in errs[6] and "relative path inside the artifact" in errs[7]
    m = parse_manifest('[artifact]\nrig = "notebook"\n[[experiment]]\nid = "E1"\nnotebook = "a.ipynb"\n'
                       'metrics = "m.json"\nparameters = { n = 3, name = "x" }\n')
    assert m.experiments[0].parameters == {"n": 3, "name": "x"} and m.experiments[0].command is None


@pytest.mark.parametrize("raw, seconds", [("30m", 1800), ("10s", 10), ("2h", 7200), ("90", 90), (90, 90),
                                          ("1.5m", 90)])
def test_durations(raw, seconds):
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["", "10x", "-5", 0, True, "m"])
def test_bad_durations(raw):
    with pytest.raises(ValueError):
        parse_duration(raw)


def test_load_manifest_from_dir_and_missing(tmp_path):
    with pytest.raises(ManifestError, match="no reproduce.toml"):
        load_manifest(tmp_path)
    (tmp_path / "reproduce.toml").write_text(DESIGN_EXAMPLE)
    assert load_manifest(tmp_path).claims[0].id == "C1"
    assert load_manifest(tmp_path / "reproduce.toml").experiments[0].id == "E1"


def test_error_str_is_readable():
    text = DESIGN_EXAMPLE.replace("gpus = 1", "gpu = 1")
    with pytest.raises(ManifestError) as info:
        parse_manifest(text)
    s = str(info.value)
    assert s.startswith("reproduce.toml has 1 problem:")
    assert "unknown key 'gpu' in [[experiment]] #1 (line 14); did you mean 'gpus'?" in s


def test_mcu_harmless_input_bytes_energy_upload():
    base = '[artifact]\nrig = "mcu"\n\n[[experiment]]\nid = "E1"\ncommand = "make"\nmetrics = "m.json"\n\n[mcu]\nboard = "nano33ble"\nfirmware = "f.elf"\ntestset = "t.npz"\n'
    m = parse_manifest(base + 'harmless = ["^debug:", "^heap \\\\d+$"]\ninput_bytes = 72\nenergy = true\n'
                       'upload = "arduino-cli upload -p {port}"\n')
    assert m.mcu.harmless == ("^debug:", "^heap \\d+$") and m.mcu.input_bytes == 72 and m.mcu.energy is True
    assert m.mcu.upload == "arduino-cli upload -p {port}"
    assert parse_manifest(base).mcu.harmless == () and parse_manifest(base).mcu.energy is False
    msgs = [msg for _, msg in errors_of(base + 'harmless = ["(unclosed"]\n')]
    assert any("'(unclosed' is not a valid regular expression" in msg for msg in msgs)
    msgs = [msg for _, msg in errors_of(base + 'harmless = "debug"\ninput_bytes = 0\nenergy = "yes"\n')]
    assert any("'harmless' in [mcu] must be a list of regular expressions" in msg for msg in msgs)
    assert any("'input_bytes' in [mcu] must be 1 or more" in msg for msg in msgs)
    assert any("'energy' in [mcu] must be true or false" in msg for msg in msgs)
