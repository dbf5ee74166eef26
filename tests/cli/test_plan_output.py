"""`plan` as a table and as Markdown: summary first, then flows, resources sorted by type and name, outputs last;
long values summarised with where to find them; no line wider than the terminal unless --wide."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from components.cli import main
from components.render import short_type
from tests.helpers import PROJECT_DIR

STACKS = ("vsphere-example", "nutanix-example", "baremetal-example", "snow-example", "aws-region-example")


def _plan(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["plan", "--project-dir", str(PROJECT_DIR), *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("columns", [80, 120])
def test_no_line_is_wider_than_the_terminal(
    stack: str, columns: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    out = _plan(capsys, "--stack", stack)
    assert max(len(line) for line in out.splitlines()) <= columns
    wide = _plan(capsys, "--stack", stack, "--wide")
    assert max(len(line) for line in wide.splitlines()) > 80  # --wide lays every row on one line


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_summary_then_flows_then_resources_then_outputs(stack: str, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = _plan(capsys, "--stack", stack, "--format", fmt, "--wide")
    order = [
        out.index(title) for title in ("Summary", "Reachable from outside the environment", "Flows (", "Resources that", "Stack outputs")
    ]
    assert order == sorted(order)
    doc = json.loads(_plan(capsys, "--stack", stack, "--format", "json"))
    section = out[out.index("Resources that") : out.index("Stack outputs")]
    listed = [(short_type(r["type"]), r["name"]) for r in doc["resources"]]
    if fmt == "markdown":
        rows = [tuple(c.strip() for c in line.strip("|").split(" | ")[:2]) for line in section.splitlines() if line.startswith("| ")]
    else:
        rows = [tuple(re.split(r"  +", line)[:2]) for line in section.splitlines()[4:] if line.strip()]
    assert rows[1:] == sorted(listed), "resources are sorted by type, then name"  # rows[0]: the header
    counts = re.findall(r"^\|? ?(\S+(?: \(dynamic\))?) +\|? ?(\d+) ?\|?$", out[: out.index("Reachable")], re.MULTILINE)
    assert sum(int(n) for _, n in counts) == len(doc["resources"])


def test_markdown_tables_hold_every_value_on_one_row(capsys: pytest.CaptureFixture[str]) -> None:
    out = _plan(capsys, "--stack", "baremetal-example", "--format", "markdown")
    assert not [line for line in out.splitlines() if line.startswith("# eksa-firewall:")], "a ruleset comment became a heading"
    for line in out.splitlines():
        if line.startswith("|"):
            assert len(re.findall(r"(?<!\\)\|", line)) in (3, 4, 5), line  # 2, 3 or 4 columns: no cell broke the table


def test_long_values_say_where_they_are_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    out = _plan(capsys, "--stack", "baremetal-example", "--wide")
    doc = json.loads(_plan(capsys, "--stack", "baremetal-example", "--format", "json"))
    for host, ruleset in doc["outputs"]["nftablesRulesets"].items():
        assert ruleset not in out
        line = next(line for line in out.splitlines() if line.startswith(f"nftablesRulesets.{host} "))
        lines = ruleset.count("\n") + 1
        assert f"({lines} lines, {len(ruleset):,} characters; in full: plan --format json, outputs.nftablesRulesets.{host}" in line
        assert f"written to {doc['outputs']['nftablesFiles'][host]} by pulumi up" in line
    assert len(out.splitlines()) < 120


def test_what_is_reachable_from_outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    doc = yaml.safe_load((PROJECT_DIR / "stacks" / "Pulumi.vsphere-example.yaml").read_text(encoding="utf-8"))
    doc["config"]["eksa-firewall:clients"]["api"] = ["0.0.0.0/1", "128.0.0.0/1"]
    path = tmp_path / "Pulumi.halves.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    out = _plan(capsys, "--stack-file", str(path))
    section = out[out.index("Reachable from outside") : out.index("Flows (")]
    api = next(line for line in section.splitlines() if line.startswith("api-clients"))
    assert "0.0.0.0/1, 128.0.0.0/1 — ANYWHERE (IPv4" in api and "mgmt: control-plane tcp 6443" in api
    ssh = next(line for line in section.splitlines() if line.startswith("ssh-clients"))
    assert "10.20.0.0/28" in ssh and "ANYWHERE" not in ssh and "prod: etcd tcp 22" in ssh


def test_plan_json_names_clusters_and_endpoint_ranges(capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(_plan(capsys, "--stack", "vsphere-example", "--format", "json"))
    assert doc["clusters"] == [{"name": "mgmt", "managedBy": None}, {"name": "prod", "managedBy": "mgmt"}]
    ranges = {(e["cluster"], e["endpoint"]): e["addresses"] for e in doc["endpoints"]}
    assert ranges[("prod", "management-cluster")] == ["10.21.0.16/28", "10.21.1.0/25"]
    assert ranges[("mgmt", "api-clients")] == ["10.30.0.0/16", "192.168.50.0/24"]
    assert {(f["cluster"], f["source"]) for f in doc["flows"]} <= set(ranges)


@pytest.mark.parametrize("stack", STACKS)
def test_plan_json_reads_the_same_every_time(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The engine receives registrations in an order that varies between runs (each waits on its inputs in the
    SDK's thread pool); the plan lists them by URN, so two plans of one stack are equal byte for byte."""
    first = _plan(capsys, "--stack", stack, "--format", "json")
    urns = [r["urn"] for r in json.loads(first)["resources"]]
    assert urns == sorted(urns)
    assert _plan(capsys, "--stack", stack, "--format", "json") == first
