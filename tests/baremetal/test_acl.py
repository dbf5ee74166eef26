from __future__ import annotations

import csv
import io

import pytest

from components.baremetal.acl import COLUMNS, TITLE, acl_entries, acl_flows, to_csv, to_markdown
from components.cli import main
from tests.baremetal.common import plan_example
from tests.helpers import PROJECT_DIR


def export(fmt: str, capsys: pytest.CaptureFixture[str], stack: str = "baremetal-example") -> str:
    assert main(["acl", "--stack", stack, "--format", fmt, "--project-dir", str(PROJECT_DIR)]) == 0
    return capsys.readouterr().out


def test_acl_csv_has_every_flow_with_concrete_addresses(capsys: pytest.CaptureFixture[str]) -> None:
    p = plan_example()
    rows = list(csv.DictReader(io.StringIO(export("csv", capsys))))
    assert tuple(rows[0].keys()) == COLUMNS
    flows = {(f.source, f.destination, f.protocol) for f in p.flows.flows}
    assert {(r["source"], r["destination"], r["protocol"]) for r in rows} == flows
    rufio = [r for r in rows if r["destination"] == "bmc" and r["source"] == "admin-machine" and r["protocol"] == "udp"]
    assert [(r["source_cidr"], r["destination_cidr"], r["ports"]) for r in rufio][:2] == [
        ("198.51.100.5/32", "203.0.113.11/32", "623"),
        ("198.51.100.5/32", "203.0.113.12/32", "623"),
    ]
    assert len(rufio) == 8  # one line per BMC of the hardware CSV
    assert rufio[0]["host_firewall"].startswith("none needed: outbound")
    assert rufio[0]["catalog_rows"] == "bm-rufio-ipmi-udp" and rufio[0]["purpose"] == "Rufio IPMI"
    dhcp = next(r for r in rows if r["source"] == "dhcp-clients" and r["destination"] == "admin-machine")
    assert dhcp["source_cidr"] == "0.0.0.0/32" and "255.255.255.255" in dhcp["note"] and dhcp["host_firewall"] == "admin-machine"
    icmp = next(r for r in rows if r["protocol"] == "icmp")
    assert icmp["ports"] == "type 8"
    kubelet = [r for r in rows if "worker-kubelet" in r["catalog_rows"]]
    assert {r["host_firewall"] for r in kubelet} == {"mgmt/worker"}


def test_acl_is_deterministic_and_markdown_matches(capsys: pytest.CaptureFixture[str]) -> None:
    p = plan_example()
    entries = acl_entries(p.topology, p.flows)
    flows = acl_flows(p.topology, p.flows)
    assert to_csv(flows) == to_csv(acl_flows(p.topology, p.flows)) == export("csv", capsys)
    md = export("markdown", capsys)
    assert md == to_markdown(flows, title=TITLE)
    lines = md.splitlines()
    assert lines[0].startswith("# ") and lines[2].startswith("| cluster | source | source_cidr |")
    assert len(lines) == 4 + len(entries)
    assert "80\\|443\\|623" in md  # pipes inside cells are escaped


def test_csv_export_quotes_like_the_csv_module() -> None:
    p = plan_example()
    entries = acl_entries(p.topology, p.flows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(e.values() for e in entries)
    assert to_csv(acl_flows(p.topology, p.flows)) == buf.getvalue()
    assert any('"' in line for line in buf.getvalue().splitlines()), "the example has cells that need quoting"


def test_acl_refuses_other_platforms_and_writes_files(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["acl", "--stack", "vsphere-example", "--project-dir", str(PROJECT_DIR)]) == 2
    assert "acl exports bare-metal stacks" in capsys.readouterr().err
    out = tmp_path / "acl.md"
    assert main(["acl", "--stack", "baremetal-example", "--format", "markdown", "-o", str(out), "--project-dir", str(PROJECT_DIR)]) == 0
    assert out.read_text(encoding="utf-8").startswith(f"# {TITLE}")


def test_the_pods_own_node_lines_say_no_physical_firewall_sees_them() -> None:
    p = plan_example()
    pods = [e for e in acl_entries(p.topology, p.flows) if e.source == "pods-on-node"]
    assert {(e.source_cidr, e.destination, e.host_firewall) for e in pods} == {
        ("203.0.113.128/25", "control-plane", "mgmt/control-plane"),
        ("203.0.113.128/25", "control-plane-vip", "mgmt/control-plane"),
        ("203.0.113.128/25", "worker", "mgmt/worker"),
    }
    assert all("no physical firewall sees it" in e.note for e in pods)
    assert not any("no physical firewall" in e.note for e in acl_entries(p.topology, p.flows) if e.source != "pods-on-node")
