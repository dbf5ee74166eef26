"""No traceback on any exit path of the command line: a closed pipe, a stack file that is a list or a scalar,
plans with nulls, probe with no route or with a source address this machine does not have, internal errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.cli import main
from tests.helpers import PROJECT_DIR

PY = sys.executable


def _cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "components.cli", *args], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False, **kwargs
    )


@pytest.mark.parametrize(
    "args", [("plan", "--stack", "vsphere-example"), ("plan", "--stack", "nutanix-example", "--format", "json"), ("matrix",)]
)
def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(args: tuple[str, ...]) -> None:
    """`plan | head`: the reader goes away. Here it is gone before the first write, so every write meets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [PY, "-m", "components.cli", *args],
            cwd=PROJECT_DIR,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_plan_piped_into_head() -> None:
    proc = subprocess.run(
        f"'{PY}' -m components.cli plan --stack vsphere-example --wide | head -3",
        shell=True,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.stderr == ""
    assert len(proc.stdout.splitlines()) == 3


@pytest.mark.parametrize(
    ("text", "found"), [("- a\n- b\n", "not a list"), ("just text\n", "not the value 'just text'"), ("42\n", "not the value '42'")]
)
def test_a_stack_file_that_is_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, found: str) -> None:
    path = tmp_path / "Pulumi.odd.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["plan", "--stack-file", str(path), "--project-dir", str(PROJECT_DIR)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:1: the stack file must be a mapping" in err and found in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("config", ["- eksa-firewall:platform: snow\n", "5\n"])
def test_a_config_section_that_is_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str) -> None:
    path = tmp_path / "Pulumi.odd.yaml"
    path.write_text("config:\n  " + config, encoding="utf-8")
    assert main(["plan", "--stack-file", str(path), "--project-dir", str(PROJECT_DIR)]) == 2
    assert "the `config` section must be a mapping" in capsys.readouterr().err


def _plan(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": "eksa-firewall/plan/v1",
        "project": "eksa-firewall",
        "stack": "s",
        "resources": [
            {"urn": "urn:pulumi:s::p::t::a", "type": "acme:index:Wall", "name": "a", "id": None, "parent": None, "inputs": {"x": 1}}
        ],
        "outputs": {},
        "flows": [],
        "local_only": [],
    }
    doc.update(changes)
    return doc


def _diff(tmp_path: Path, base: dict[str, Any], head: dict[str, Any]) -> int:
    (tmp_path / "base.json").write_text(json.dumps(base), encoding="utf-8")
    (tmp_path / "head.json").write_text(json.dumps(head), encoding="utf-8")
    return main(["diff", str(tmp_path / "base.json"), str(tmp_path / "head.json"), "-o", str(tmp_path / "out" / "diff.md")])


NULL_INPUTS = [{"urn": "urn:pulumi:s::p::t::a", "type": "acme:index:Wall", "name": "a", "id": None, "parent": None, "inputs": None}]


@pytest.mark.parametrize(
    "head",
    [
        _plan(resources=NULL_INPUTS),
        _plan(resources=None, outputs=None, flows=None, local_only=None),
        _plan(
            flows=[
                {"cluster": "c", "source": "api-clients", "destination": "control-plane", "protocol": "tcp", "ports": "6443", "rows": None}
            ]
        ),
        _plan(resources=[{**NULL_INPUTS[0], "inputs": {"cidrBlocks": None, "description": None}}]),
    ],
)
def test_diff_of_plans_with_nulls(tmp_path: Path, head: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert _diff(tmp_path, _plan(), head) == 0
    assert capsys.readouterr().err == ""
    assert (tmp_path / "out" / "diff.md").read_text(encoding="utf-8").startswith("## eksa-firewall diff")


@pytest.mark.parametrize(
    ("head", "field"),
    [
        (_plan(resources=[{**NULL_INPUTS[0], "inputs": [1, 2]}]), "resources[0].inputs must be an object, not a list"),
        (_plan(resources={"a": 1}), "resources must be a list, not an object"),
        (_plan(resources=[None]), "resources[0] must be an object, not null"),
        (_plan(resources=[{**NULL_INPUTS[0], "type": None}]), "resources[0].type must be a string, not null"),
        (_plan(flows=[{"cluster": "c", "source": "a", "destination": "b", "protocol": "tcp", "ports": "x"}]), "flows[0].ports"),
        (_plan(endpoints=[{"cluster": "c", "endpoint": "e", "addresses": ["nope"]}]), "endpoints[0].addresses[0]"),
    ],
)
def test_diff_of_a_plan_with_a_wrong_field_names_it(
    tmp_path: Path, head: dict[str, Any], field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _diff(tmp_path, _plan(), head) == 2
    err = capsys.readouterr().err
    assert field in err and "head.json" in err
    assert len(err.strip().splitlines()) == 1


def test_diff_of_a_file_that_is_not_json_or_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_bytes(b'{"schema": "eksa-firewall/plan/v1", "stack": "\xff"}')
    (tmp_path / "cut.json").write_text('{"schema": ', encoding="utf-8")
    assert main(["diff", str(tmp_path / "bad.json"), str(tmp_path / "cut.json")]) == 2
    assert f"{tmp_path / 'bad.json'}:1:" in capsys.readouterr().err
    assert main(["diff", str(tmp_path / "cut.json"), str(tmp_path / "cut.json")]) == 2
    assert f"{tmp_path / 'cut.json'}:1:" in capsys.readouterr().err


def test_output_folders_are_made(tmp_path: Path) -> None:
    out = tmp_path / "build" / "deeper" / "acl.md"
    assert main(["acl", "--stack", "baremetal-example", "--format", "markdown", "-o", str(out), "--project-dir", str(PROJECT_DIR)]) == 0
    assert out.read_text(encoding="utf-8").startswith("# ")


def test_an_output_that_cannot_be_written_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert main(["acl", "--stack", "baremetal-example", "-o", str(blocker / "acl.csv"), "--project-dir", str(PROJECT_DIR)]) == 2
    err = capsys.readouterr().err
    assert "cannot write the output" in err and len(err.strip().splitlines()) == 1


def test_probe_from_an_address_this_machine_does_not_have(capsys: pytest.CaptureFixture[str]) -> None:
    # 203.0.113.250 (TEST-NET-3) is no address of this machine: binding to it fails before any packet is sent.
    code = main(
        ["probe", "--stack", "baremetal-example", "--project-dir", str(PROJECT_DIR), "--from", "worker", "--source", "203.0.113.250"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--source 203.0.113.250: not an address of this machine" in err and len(err.strip().splitlines()) == 1


def test_probe_with_a_source_that_is_not_an_address(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "--stack", "baremetal-example", "--project-dir", str(PROJECT_DIR), "--from", "worker", "--source", "eth0"])
    assert code == 2
    assert "--source eth0: not an IP address" in capsys.readouterr().err


def test_probe_with_no_route() -> None:
    """In a network namespace with only loopback: every destination is unroutable; exit 1, a verdict per port, no traceback."""
    from tests.baremetal.lab import require_lab, run

    require_lab()
    ns = f"eksafwcli{os.getpid()}"
    run("ip", "netns", "add", ns)
    try:
        run("ip", "-n", ns, "link", "set", "lo", "up")
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, PY, "-m", "components.cli", "probe", "--stack", "baremetal-example", "--from", "worker",
             "--timeout", "0.5", "--deadline", "30", "--format", "json"],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        run("ip", "netns", "delete", ns, check=False)
    assert proc.stderr == ""
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["checks"] and all(r["ok"] is False and r["verdict"] == "no-route" for r in doc["checks"])
    assert any(r["protocol"] == "icmp" for r in doc["checks"])
    assert any("no route from this machine" in w for w in doc["warnings"])


def test_an_internal_error_is_one_line_and_exit_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from components.cli import matrix

    def broken(*_: object, **__: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(matrix, "load_catalog", broken)
    assert main(["matrix"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("eksa-firewall: internal error (KeyError: 'boom')") and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("EKSA_FIREWALL_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["matrix"])


def test_a_missing_provider_sdk_names_the_extra_to_install(tmp_path: Path) -> None:
    """Installed with only some extras: planning another platform's stack says which extra to install."""
    blocker = tmp_path / "pulumi_nutanix"
    blocker.mkdir()
    (blocker / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'pulumi_nutanix'\", name='pulumi_nutanix')\n", encoding="utf-8"
    )
    proc = _cli("plan", "--stack", "nutanix-example", env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 2
    assert proc.stderr.startswith("eksa-firewall: the nutanix platform needs the Python package pulumi_nutanix")
    assert "pip install 'eksa-firewall[nutanix]'" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_interrupted_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from components.cli import matrix

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(matrix, "load_catalog", interrupted)
    assert main(["matrix"]) == 130
    assert capsys.readouterr().err == "eksa-firewall: interrupted\n"
