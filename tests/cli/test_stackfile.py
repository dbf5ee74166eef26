"""Stack files read as the Pulumi CLI reads them (gopkg.in/yaml.v3): see components/stackfile.py for the rules
and the upstream lines they follow. Each case ends with exit 2 and one clear error, or with the values yaml.v3
would give the program."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from components.cli import main
from components.stackfile import OtherNamespaceValue, load_project, load_stack
from tests.helpers import PROJECT_DIR

STACK = """\
config:
  eksa-firewall:platform: vsphere
  eksa-firewall:adminMachine: {addresses: [10.0.0.1]}
  eksa-firewall:endpoints: {vcenter: 10.0.0.2}
  eksa-firewall:clusters:
    - name: mgmt
      controlPlane: {endpoint: 10.0.1.100, addresses: [10.0.1.0/28]}
  eksa-firewall:vsphere: {nsx: {host: nsx.example.com, username: u}}
"""


def _plan(tmp_path: Path, text: str | bytes, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "Pulumi.t.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    code = main(["plan", "--stack-file", str(path), "--project-dir", str(PROJECT_DIR), "--format", "json"])
    return code, capsys.readouterr().err


def test_the_base_stack_plans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _plan(tmp_path, STACK, capsys) == (0, "")


def test_a_key_written_twice_is_refused_with_both_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A control plane that silently became another range: the second `controlPlane` used to win.
    text = STACK.replace(
        "      controlPlane: {endpoint: 10.0.1.100, addresses: [10.0.1.0/28]}\n",
        "      controlPlane: {endpoint: 10.0.1.100, addresses: [10.0.1.0/28]}\n      controlPlane: {endpoint: 10.0.1.100, addresses: [10.9.0.0/16]}\n",
    )
    code, err = _plan(tmp_path, text, capsys)
    assert code == 2
    assert "Pulumi.t.yaml:8: key 'controlPlane' is already defined at line 7" in err
    assert len(err.strip().splitlines()) == 1


def test_a_top_level_key_written_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _plan(tmp_path, STACK + "  eksa-firewall:platform: snow\n", capsys)
    assert code == 2 and "key 'eksa-firewall:platform' is already defined at line 2" in err


@pytest.mark.parametrize(("line", "key", "value"), [
    ("  eksa-firewall:cilium: yes\n", "eksa-firewall:cilium", "'yes'"),
    ("  eksa-firewall:allowSshFromAnywhere: on\n", "eksa-firewall:allowSshFromAnywhere", "'on'"),
    ("  eksa-firewall:managementTools: {jenkins: {enabled: no, address: 10.0.0.9, clients: [10.0.3.0/24]}}\n",
     "eksa-firewall:managementTools.jenkins.enabled", "'no'"),
])  # fmt: skip
def test_yaml_1_1_booleans_stay_text_and_are_reported_with_their_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, key: str, value: str
) -> None:
    code, err = _plan(tmp_path, STACK + line, capsys)
    assert code == 2
    assert f"{key}: must be true or false, got {value}" in err


def test_yaml_1_2_values(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(
        "config:\n  a:b: true\n  a:c: False\n  a:d: ~\n  a:e: 0x1bb\n  a:f: 0o17\n  a:g: 017\n  a:h: 1_000\n  a:i: 1e3\n"
        "  a:j: 2024-01-01\n  a:k: y\n  a:l: 1:30\n  a:m: .inf\n",
        encoding="utf-8",
    )
    values = load_stack(load_project(PROJECT_DIR), path=path).values
    got = {k[2:]: v for k, v in values.items() if k.startswith("a:")}
    assert got == {"b": True, "c": False, "d": None, "e": 443, "f": 15, "g": 15, "h": 1000, "i": 1000.0, "j": "2024-01-01",
                   "k": "y", "l": "1:30", "m": float("inf")}  # fmt: skip


def test_a_date_in_the_project_namespace_is_text_the_reader_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _plan(tmp_path, STACK + "  eksa-firewall:eksaVersion: 2024-01-01\n", capsys)
    assert code == 2 and "eksa-firewall:eksaVersion: '2024-01-01' is not an EKS Anywhere version" in err


BOMB = """\
  aws:defaultTags:
    a: &a [x, x, x, x, x, x, x, x, x]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
    h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
    i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def _limit_memory() -> None:
    limit = 1 << 30  # 1 GiB: the bomb expanded is 9**9 strings, far beyond it
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_an_alias_bomb_fails_with_one_error_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.bomb.yaml"
    path.write_text(STACK + BOMB, encoding="utf-8")
    assert len(BOMB.encode()) < 1024
    proc = subprocess.run(
        [sys.executable, "-m", "components.cli", "plan", "--stack-file", str(path), "--project-dir", str(PROJECT_DIR)],
        capture_output=True, text=True, timeout=600, check=False, preexec_fn=_limit_memory,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "excessive aliasing" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_few_aliases_are_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = STACK.replace(
        "  eksa-firewall:adminMachine: {addresses: [10.0.0.1]}\n", "  eksa-firewall:adminMachine: {addresses: &admin [10.0.0.1]}\n"
    )
    text += "  eksa-firewall:clients: {ssh: *admin, api: *admin}\n"
    assert _plan(tmp_path, text, capsys) == (0, "")


def test_other_namespaces_structured_values_are_neither_built_nor_serialized(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(
        STACK + "  aws:defaultTags: {tags: {team: a}}\n  aws:region: us-west-2\n  nutanix:port: 9440\n  x:y: true\n", encoding="utf-8"
    )
    sc = load_stack(load_project(PROJECT_DIR), path=path)
    assert sc.values["aws:defaultTags"] == OtherNamespaceValue("mapping", 9)
    config = sc.engine_config()
    assert "aws:defaultTags" not in config
    assert (config["aws:region"], config["nutanix:port"], config["x:y"]) == ("us-west-2", "9440", "true")
    assert config["eksa-firewall:adminMachine"] == '{"addresses": ["10.0.0.1"]}'


def test_a_misspelt_project_namespace_gets_a_did_you_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _plan(tmp_path, STACK + "  eksa-firewal:clients: {ssh: [10.0.0.0/24]}\n", capsys)
    assert code == 2
    assert "Pulumi.t.yaml:9: eksa-firewal:clients: namespace 'eksa-firewal' is not this project's" in err
    assert "did you mean eksa-firewall:clients?" in err


def test_other_namespaces_are_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = STACK + "  aws:region: us-west-2\n  eksa-tools:clients: x\n  eksa-firewall2:notakey: y\n"
    assert _plan(tmp_path, text, capsys) == (0, "")


def test_a_stack_file_that_is_not_utf8_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _plan(tmp_path, STACK.encode() + b"  eksa-firewall:cilium: \xe9\n", capsys)
    assert code == 2
    assert "Pulumi.t.yaml:9:25: the stack file is not UTF-8 text (byte 0xe9)" in err


def test_a_byte_order_mark_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _plan(tmp_path, b"\xef\xbb\xbf" + STACK.encode(), capsys) == (0, "")


def test_a_hardware_csv_that_is_not_utf8_names_the_key_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "hw.csv"
    csv.write_bytes(b"hostname,ip_address,labels\ncp-1,198.51.100.11,type=cp\xff\n")
    text = (PROJECT_DIR / "stacks" / "Pulumi.baremetal-example.yaml").read_text(encoding="utf-8")
    text = text.replace("eksa-firewall:hardwareCsv: stacks/hardware-example.csv", f"eksa-firewall:hardwareCsv: {csv}")
    code, err = _plan(tmp_path, text, capsys)
    assert code == 2
    assert "eksa-firewall:hardwareCsv" in err and f"{csv}:2:" in err and "not UTF-8" in err


def test_a_pulumi_yaml_that_is_not_utf8_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Pulumi.yaml").write_bytes(b"name: \xff\n")
    assert main(["matrix"]) == 0  # matrix reads no project
    capsys.readouterr()
    (tmp_path / "Pulumi.t.yaml").write_text(STACK, encoding="utf-8")
    assert main(["plan", "--stack-file", str(tmp_path / "Pulumi.t.yaml"), "--project-dir", str(tmp_path)]) == 2
    assert f"{tmp_path / 'Pulumi.yaml'}:1:7: the Pulumi project file is not UTF-8 text" in capsys.readouterr().err


def test_deep_nesting_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _plan(tmp_path, STACK + "  x:y: " + "[" * 2000 + "]" * 2000 + "\n", capsys)
    assert code == 2 and "nested too deeply" in err and len(err.strip().splitlines()) == 1


def test_pulumi_yaml_keys_written_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: a\nruntime: python\nname: b\n", encoding="utf-8")
    (tmp_path / "Pulumi.t.yaml").write_text(STACK, encoding="utf-8")
    assert main(["plan", "--stack-file", str(tmp_path / "Pulumi.t.yaml"), "--project-dir", str(tmp_path)]) == 2
    assert "Pulumi.yaml:3: key 'name' is already defined at line 1" in capsys.readouterr().err
