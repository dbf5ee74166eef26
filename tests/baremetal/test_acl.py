from __future__ import annotations

import csv
import io

from components.baremetal.acl import COLUMNS, acl_entries, to_csv, to_markdown
from tests.baremetal.common import plan_example


def test_acl_csv_has_every_flow_with_concrete_addresses() -> None:
    p = plan_example()
    rows = list(csv.DictReader(io.StringIO(p.run.outputs["aclCsv"])))
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


def test_acl_is_deterministic_and_markdown_matches() -> None:
    p = plan_example()
    entries = acl_entries(p.topology, p.flows)
    assert to_csv(entries) == to_csv(acl_entries(p.topology, p.flows)) == p.run.outputs["aclCsv"]
    md = p.run.outputs["aclMarkdown"]
    assert md == to_markdown(entries, title="EKS Anywhere flows for the physical firewalls (eksa-firewall)")
    lines = md.splitlines()
    assert lines[0].startswith("# ") and lines[2].startswith("| cluster | source | source_cidr |")
    assert len(lines) == 4 + len(entries)
    assert "80\\|443\\|623" in md  # pipes inside cells are escaped
