"""`verify` output: every missing or excess access names its cluster, endpoints, protocol/ports and catalog rows;
the summary says how flows become accesses; audit mode's final ALLOW is reported as expected."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import engine
from components.cli import main
from components.cli.verify import Explainer
from components.engine import ProgramRun, Registration
from components.flows import Access
from components.ports import PortRange
from tests.helpers import PROJECT_DIR, plan_stack

SG = "aws:ec2/securityGroup:SecurityGroup"


def _edit_run(monkeypatch: pytest.MonkeyPatch, edit: Callable[[Registration], Registration]) -> None:
    real = engine.run_stack

    def run_stack(sc: Any, **kwargs: Any) -> ProgramRun:
        run = real(sc, **kwargs)
        return dataclasses.replace(run, resources=tuple(edit(r) for r in run.resources))

    monkeypatch.setattr(engine, "run_stack", run_stack)


def _drop_6443_add_ssh_from_anywhere(r: Registration) -> Registration:
    if r.type != SG or not r.name.endswith("-mgmt-control-plane"):  # both devices hold a copy
        return r
    ingress = [i for i in r.inputs["ingress"] if i["fromPort"] != 6443]
    ingress.append({"protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"], "fromPort": 22, "toPort": 22, "description": "by hand"})
    return dataclasses.replace(r, inputs={**r.inputs, "ingress": ingress})


def test_each_line_names_cluster_endpoints_ports_and_rows(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _edit_run(monkeypatch, _drop_6443_add_ssh_from_anywhere)
    assert main(["verify", "--stack", "snow-example", "--project-dir", str(PROJECT_DIR)]) == 1
    out = capsys.readouterr().out
    missing = [line for line in out.splitlines() if line.startswith("  MISSING")]
    excess = [line for line in out.splitlines() if line.startswith("  EXCESS")]
    assert (
        "  MISSING  cluster mgmt: admin-machine 10.20.0.10/32 -> control-plane 10.20.1.0/28, tcp 6443 (rows cp-kube-apiserver, snow-kube-apiserver)"
        in missing
    )
    assert all("cluster mgmt:" in line and "-> control-plane 10.20.1.0/28, tcp 6443 (rows " in line for line in missing)
    # SSH from anywhere is no flow's, although ssh-clients may reach port 22: no row is given for it.
    assert excess == ["  EXCESS  cluster mgmt: (no endpoint) 0.0.0.0/0 -> control-plane 10.20.1.0/28, tcp 22 (no row: nothing requires it)"]
    assert out.rstrip().endswith(f"FAILED: {len(missing)} missing, {len(excess)} excess")


def test_json_carries_the_same_context(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _edit_run(monkeypatch, _drop_6443_add_ssh_from_anywhere)
    assert main(["verify", "--stack", "snow-example", "--project-dir", str(PROJECT_DIR), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["platform"] == "snow" and doc["flows"] == 59
    first = doc["missing"][0]
    assert set(first) == {"source", "destination", "protocol", "ports", "clusters", "source_endpoints", "destination_endpoints", "rows"}
    assert first["clusters"] == ["mgmt"] and first["destination_endpoints"] == ["control-plane"] and first["rows"]
    assert all(x["rows"] == [] and x["source_endpoints"] == [] for x in doc["excess"])


def test_the_summary_explains_accesses_and_flows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--stack", "vsphere-example", "--project-dir", str(PROJECT_DIR)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("verify vsphere-example (vsphere): 60 flows give ")
    assert "an access is one source range to one destination range on one protocol and port range" in first


def test_audit_mode_says_its_final_allow_is_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load((PROJECT_DIR / "stacks" / "Pulumi.vsphere-example.yaml").read_text(encoding="utf-8"))
    doc["config"]["eksa-firewall:vsphere"]["nsx"]["mode"] = "audit"
    path = tmp_path / "Pulumi.audit.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert main(["verify", "--stack-file", str(path), "--project-dir", str(PROJECT_DIR)]) == 0
    out = capsys.readouterr().out
    assert "EXCESS" not in out
    assert "expected in audit mode:" in out and "final rule ALLOWs and logs" in out and "cluster mgmt, prod" in out
    assert out.rstrip().endswith("OK: the rendered objects allow exactly the required flows (besides the audit rule above)")


def test_an_access_that_belongs_to_no_flow_still_names_its_endpoints() -> None:
    planned = plan_stack("vsphere-example")
    explainer = Explainer(planned.topology, planned.flows)
    import ipaddress

    vip = ipaddress.ip_network("10.21.0.10/32")
    x = explainer.explain(Access(ipaddress.ip_network("0.0.0.0/0"), vip, "tcp", PortRange(0, 65535)))
    # Every endpoint's ranges lie inside 0.0.0.0/0, but 0.0.0.0/0 lies inside none: no endpoint, no flow, no row.
    assert (x.clusters, x.sources, x.destinations, x.rows) == (("mgmt",), (), ("control-plane-vip",), ())
    m = explainer.explain(Access(ipaddress.ip_network("10.20.0.10/32"), vip, "tcp", PortRange(6443, 6443)))
    assert (m.sources, m.destinations, m.rows) == (
        ("admin-machine",),
        ("control-plane-vip",),
        ("cp-kube-apiserver", "vsphere-kube-apiserver"),
    )
    y = explainer.explain(Access(ipaddress.ip_network("192.0.2.0/24"), vip, "udp", PortRange(53, 53)))
    assert (y.clusters, y.sources, y.destinations, y.rows) == (("mgmt",), (), ("control-plane-vip",), ())
    assert y.line() == "cluster mgmt: (no endpoint) 192.0.2.0/24 -> control-plane-vip 10.21.0.10/32, udp 53 (no row: nothing requires it)"
