"""The Aerleon export as text and structure (no Aerleon here: tests/export/test_generators.py runs it)."""

from __future__ import annotations

import difflib
import subprocess
import sys
from typing import Any

import pytest
import yaml

from components.cli import main
from components.export.aerleon import MAX_COMMENT, MAX_TERM_NAME, AerleonOptions, ExportError, aerleon_files, parse_segment, paths
from components.flows import FlowSet
from components.topology import Topology
from tests.environments import add_worker_group, edit_cluster, edit_worker_group, merge
from tests.export.common import from_config, from_stack
from tests.helpers import PROJECT_DIR

NAME = "eksa-baremetal-example"


def _files(topology: Topology, flows: FlowSet, **options: Any) -> dict[str, str]:
    return aerleon_files(topology, flows, AerleonOptions(name=options.pop("name", NAME), **options))


def _docs(files: dict[str, str], name: str = NAME) -> dict[str, Any]:
    return {kind: yaml.safe_load(files[path]) for kind, path in paths(name).items() if path in files}


def _example_config() -> dict[str, Any]:
    from tests.baremetal.common import example_config

    return example_config()


def test_one_network_per_endpoint_one_service_per_row_one_term_per_flow() -> None:
    topology, flows = from_stack("baremetal-example")
    files = _files(topology, flows)
    assert list(files) == [
        f"def/{NAME}-networks.yaml",
        f"def/{NAME}-services.yaml",
        f"policies/includes/{NAME}-ipv4.yaml",
        f"policies/pol/{NAME}.yaml",
    ]
    docs = _docs(files)
    networks = docs["networks"]["networks"]
    endpoints = {f.source for f in flows.flows} | {f.destination for f in flows.flows}
    assert endpoints == {"admin-machine", "api-clients", "bmc", "control-plane", "control-plane-vip", "dhcp-clients"} | {
        "nodeport-clients",
        "pods-on-node",
        "ssh-clients",
        "tinkerbell-vip",
        "worker",
    }
    # The roles and the VIP of the cluster carry its name; the environment's endpoints do not.
    assert sorted(networks) == [
        "EKSA_ADMIN_MACHINE", "EKSA_API_CLIENTS", "EKSA_BMC", "EKSA_DHCP_CLIENTS", "EKSA_MGMT_CONTROL_PLANE",
        "EKSA_MGMT_CONTROL_PLANE_VIP", "EKSA_MGMT_PODS_ON_NODE", "EKSA_MGMT_WORKER", "EKSA_NODEPORT_CLIENTS", "EKSA_SSH_CLIENTS",
        "EKSA_TINKERBELL_VIP",
    ]  # fmt: skip
    assert networks["EKSA_MGMT_CONTROL_PLANE"] == {"values": [{"address": f"198.51.100.1{i}/32"} for i in (1, 2, 3)]}
    assert len(networks["EKSA_BMC"]["values"]) == 8  # one BMC per machine of the hardware CSV
    assert networks["EKSA_DHCP_CLIENTS"] == {"values": [{"address": "0.0.0.0/32"}]}

    services = docs["services"]["services"]
    rows = {r for f in flows.flows if f.protocol != "icmp" for r in f.rows}
    assert sorted(services) == sorted(f"EKSA_{r.upper().replace('-', '_')}" for r in rows)
    assert services["EKSA_WORKER_NODEPORT"] == [{"port": "30000-32767", "protocol": "tcp"}]
    assert services["EKSA_BM_RUFIO_REDFISH"] == [{"port": 80, "protocol": "tcp"}, {"port": 443, "protocol": "tcp"}]

    terms = docs["ipv4"]["terms"]
    # One term per flow; an ICMP flow has an nftables twin (Aerleon's nftables generator fails on one ICMP type).
    icmp = [f for f in flows.flows if f.protocol == "icmp"]
    assert len(terms) == len(flows.flows) + len(icmp)
    by_name = {t["name"]: t for t in terms}
    kubelet = by_name["mgmt-cp-wk-tcp"]
    assert kubelet == {
        "name": "mgmt-cp-wk-tcp",
        "comment": "mgmt: control-plane -> worker (cilium-health, metrics-server-kubelet, worker-kubelet, worker-nodeport)",
        "source-address": "EKSA_MGMT_CONTROL_PLANE",
        "destination-address": "EKSA_MGMT_WORKER",
        "protocol": "tcp",
        "destination-port": ["EKSA_CILIUM_HEALTH", "EKSA_METRICS_SERVER_KUBELET", "EKSA_WORKER_KUBELET", "EKSA_WORKER_NODEPORT"],
        "action": "accept",
    }
    assert by_name["mgmt-wk-cp-icmp"]["icmp-type"] == ["echo-request"] and by_name["mgmt-wk-cp-icmp"]["platform-exclude"] == ["nftables"]
    assert by_name["mgmt-wk-cp-icmpn"]["icmp-type"] == ["echo-request"] * 2 and by_name["mgmt-wk-cp-icmpn"]["platform"] == ["nftables"]
    for f in flows.flows:  # every term names every catalog row of its flow
        (term,) = [t for t in terms if t["source-address"].endswith(f.source.upper().replace("-", "_")) and t["protocol"] == f.protocol
                   and t["destination-address"].endswith(f.destination.upper().replace("-", "_")) and "platform" not in t]  # fmt: skip
        assert all(r in term["comment"] for r in f.rows), (f, term)
    for t in terms:
        assert len(t["name"]) <= MAX_TERM_NAME and len(t["comment"]) <= MAX_COMMENT and "\n" not in t["comment"]

    policy = docs["policy"]
    (flt,) = policy["filters"]
    assert flt["header"]["targets"] == {
        "nftables": "inet input",
        "iptables": "INPUT DROP inet",
        "srx": "from-zone all to-zone all inet",
        "paloalto": "from-zone any to-zone any inet",
        "ciscoasa": NAME,
    }
    assert flt["terms"] == [
        {"include": f"includes/{NAME}-ipv4.yaml"},
        {"name": "default-deny", "comment": "everything else: deny", "action": "deny"},
    ]


def test_the_export_is_deterministic_and_ignores_the_order_of_lists() -> None:
    cfg = _example_config()
    topology, flows = from_config(cfg)
    shuffled = merge(cfg, {"clients": {"api": ["203.0.113.64/26"]}})
    shuffled = merge(shuffled, {"clients": {key: list(reversed(shuffled["clients"][key])) for key in ("api", "ssh", "nodePort")}})
    shuffled = add_worker_group(shuffled, "mgmt", {"name": "md-1", "addresses": ["198.51.100.22"]})  # a duplicate machine
    assert _files(topology, flows) == _files(*from_config(shuffled)) == _files(*from_config(cfg))


def _changed(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[list[str], list[str]]]:
    """path -> (removed lines, added lines)."""
    out = {}
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path, "").splitlines(), after.get(path, "").splitlines()
        diff = [line for line in difflib.unified_diff(a, b, lineterm="", n=0) if not line.startswith(("---", "+++", "@@"))]
        if diff:
            out[path] = ([d[1:] for d in diff if d.startswith("-")], [d[1:] for d in diff if d.startswith("+")])
    return out


def test_a_small_change_to_the_environment_is_a_small_diff() -> None:
    cfg = _example_config()
    before = _files(*from_config(cfg))

    more = edit_worker_group(cfg, "mgmt", "md-0", addresses=["198.51.100.23"])  # one more worker
    assert _changed(before, _files(*from_config(more))) == {f"def/{NAME}-networks.yaml": ([], ['      - address: "198.51.100.23/32"'])}

    moved = merge(cfg, {"clients": {"ssh": ["203.0.113.71/32"]}})  # the SSH clients move
    assert _changed(before, _files(*from_config(moved))) == {
        f"def/{NAME}-networks.yaml": (['      - address: "203.0.113.70/32"'], ['      - address: "203.0.113.71/32"'])
    }

    # A second cluster only adds: its networks, its terms; nothing that was there changes or moves.
    from tests.baremetal.common import workload_cluster_config

    changed = _changed(before, _files(*from_config(workload_cluster_config())))
    assert set(changed) == {f"def/{NAME}-networks.yaml", f"policies/includes/{NAME}-ipv4.yaml"}
    assert all(removed == [] for removed, _added in changed.values())
    added_terms = [line for line in changed[f"policies/includes/{NAME}-ipv4.yaml"][1] if line.startswith("  - name: ")]
    assert added_terms and all(line.startswith("  - name: prod-") for line in added_terms)


def test_ports_the_environment_moves_get_services_named_after_row_and_port() -> None:
    lb = {"address": "203.0.113.200", "port": 8443}
    cfg = edit_cluster(_example_config(), "mgmt", controlPlane={"apiServerPort": 443, "loadBalancer": lb})
    topology, flows = from_config(cfg)
    docs = _docs(_files(topology, flows))
    services = docs["services"]["services"]
    assert services["EKSA_CP_KUBE_APISERVER_443"] == [{"port": 443, "protocol": "tcp"}]
    assert services["EKSA_CP_KUBE_APISERVER_8443"] == [{"port": 8443, "protocol": "tcp"}]  # clients -> the load balancer
    assert "EKSA_CP_KUBE_APISERVER" not in services  # 6443 is used nowhere
    by_name = {t["name"]: t for t in docs["ipv4"]["terms"]}
    assert by_name["mgmt-apic-lb-tcp"]["destination-port"] == ["EKSA_CP_KUBE_APISERVER_8443"]
    assert by_name["mgmt-lb-cp-tcp"]["destination-port"] == ["EKSA_CP_KUBE_APISERVER_443"]
    assert docs["networks"]["networks"]["EKSA_MGMT_API_LOAD_BALANCER"] == {"values": [{"address": "203.0.113.200/32"}]}


def test_term_names_fit_iptables_and_stay_unique_with_long_cluster_names() -> None:
    from tests.baremetal.common import workload_cluster_config

    east, west = "management-cluster-of-the-east-region", "management-cluster-of-the-west-region"
    cfg = edit_cluster(edit_cluster(workload_cluster_config(), "mgmt", name=east), "prod", name=west, managedBy=east)
    topology, flows = from_config(cfg)
    terms = _docs(_files(topology, flows))["ipv4"]["terms"]
    names = [t["name"] for t in terms]
    assert len(set(names)) == len(names)
    assert max(len(n) for n in names) <= MAX_TERM_NAME
    # A long cluster name is cut to 5 characters and a digest of it: the same for all its terms, distinct per cluster.
    east = {t["name"][:10] for t in terms if "EAST" in t["source-address"] + t["destination-address"]}
    west = {t["name"][:10] for t in terms if "WEST" in t["source-address"] + t["destination-address"]}
    assert len(east) == len(west) == 1 and east != west
    assert all(n.startswith("manag") and n[9] == "-" for n in names)
    # A short one is kept whole.
    assert "mgmt-cp-wk-tcp" in [t["name"] for t in _docs(_files(*from_stack("baremetal-example")))["ipv4"]["terms"]]


def test_a_bare_metal_rack_behind_a_firewall() -> None:
    """The rack's L2 segment 198.51.100.0/24 (nodes, VIPs, admin machine) behind a firewall: only the flows to and
    from the clients and the BMC network (203.0.113.0/24) cross it."""
    topology, flows = from_stack("baremetal-example")
    docs = _docs(_files(topology, flows, segment=parse_segment(["198.51.100.0/24"])))
    names = [t["name"] for t in docs["ipv4"]["terms"]]
    assert names == [
        "mgmt-adm-bmc-tcp", "mgmt-adm-bmc-udp", "mgmt-apic-cp-tcp", "mgmt-apic-vip-tcp", "mgmt-cp-bmc-tcp", "mgmt-cp-bmc-udp",
        "mgmt-dhcp-adm-udp", "mgmt-dhcp-tvip-udp", "mgmt-npc-wk-tcp", "mgmt-sshc-cp-tcp", "mgmt-sshc-wk-tcp", "mgmt-wk-bmc-tcp",
        "mgmt-wk-bmc-udp",
    ]  # fmt: skip
    (flt,) = docs["policy"]["filters"]
    assert flt["header"]["targets"]["nftables"] == "inet forward" and flt["header"]["targets"]["iptables"] == "FORWARD DROP inet"


def test_an_endpoint_across_the_segment_edge_is_cut_in_two() -> None:
    cfg = _example_config()
    cfg["clients"]["ssh"] = ["198.51.100.0/24"]  # half inside 198.51.100.0/25, half outside
    cfg["clusters"][0]["workerGroups"][0]["addresses"] = ["198.51.100.96/27"]  # .96-.127 inside, with the CSV's
    cfg["allowOverlappingRoles"] = True  # that range holds the VIPs (.100, .101) too
    cfg["clients"]["nodePort"] = ["198.51.100.0/24"]
    topology, flows = from_config(cfg)
    docs = _docs(_files(topology, flows, segment=parse_segment(["198.51.100.0/25"])))
    networks = docs["networks"]["networks"]
    assert networks["EKSA_SSH_CLIENTS_INSIDE"] == {"values": [{"address": "198.51.100.0/25"}]}
    assert networks["EKSA_SSH_CLIENTS_OUTSIDE"] == {"values": [{"address": "198.51.100.128/25"}]}
    by_name = {t["name"]: t for t in docs["ipv4"]["terms"]}
    # SSH clients -> control plane (inside): only the clients outside cross.
    assert by_name["mgmt-sshc-cp-tcp"]["source-address"] == "EKSA_SSH_CLIENTS_OUTSIDE"


def test_default_action_reject() -> None:
    topology, flows = from_stack("baremetal-example")
    policy = _docs(_files(topology, flows, default_action="reject"))["policy"]
    assert policy["filters"][0]["terms"][-1] == {
        "name": "default-reject",
        "comment": "everything else: reject",
        "platform-exclude": ["nftables"],
        "action": "reject",
    }


def test_dual_stack_has_a_filter_per_family() -> None:
    from tests.baremetal.common import ipv6_config

    topology, flows = from_config(ipv6_config())
    files = _files(topology, flows)
    docs = _docs(files)
    v6 = docs["ipv6"]["terms"]
    assert {t["protocol"] for t in v6} == {"tcp", "udp", "icmpv6"}
    assert all(t["name"].split("-")[-1] in ("tcp6", "udp6", "icmp6", "icmp6n") for t in v6)
    filters = docs["policy"]["filters"]
    assert [f["header"]["targets"].get("nftables") for f in filters] == ["inet input", "inet6 input"]
    assert "ciscoasa" not in filters[1]["header"]["targets"]  # Aerleon's ASA generator renders IPv4 only
    assert filters[1]["terms"][-1]["name"] == "default-deny6"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": "Bad Name"}, "--name 'Bad Name'"),
        ({"prefix": "eksa-prod"}, "--prefix 'eksa-prod'"),
        ({"default_action": "accept"}, "--default-action 'accept'"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ExportError, match=message):
        AerleonOptions(**{"name": NAME, **options})


def test_bad_segment_names_the_option() -> None:
    with pytest.raises(ExportError, match=r"--segment '198.51.100.5/24'.*host bits"):
        parse_segment(["198.51.100.5/24"])


def test_export_command_writes_the_repository_layout(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["export", "--stack", "baremetal-example", "--project-dir", str(PROJECT_DIR), "-o", str(tmp_path)]
    assert main(args) == 0
    written = capsys.readouterr().out.split()
    topology, flows = from_stack("baremetal-example")
    expected = _files(topology, flows)
    assert written == [str(tmp_path / p) for p in expected]
    assert {p: (tmp_path / p).read_text(encoding="utf-8") for p in expected} == expected
    # A terms file of a family without flows any more is removed on the next export.
    stale = tmp_path / paths(NAME)["ipv6"]
    stale.write_text("terms: []\n", encoding="utf-8")
    assert main(args) == 0
    assert not stale.exists()


def test_export_command_errors_name_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["export", "--stack", "baremetal-example", "--project-dir", str(PROJECT_DIR), "-o", "/nonexistent-never-written"]
    assert main([*base, "--segment", "rack"]) == 2
    assert "--segment 'rack'" in capsys.readouterr().err
    assert main([*base, "--prefix", "x y"]) == 2
    assert "--prefix 'x y'" in capsys.readouterr().err


def test_the_plan_and_the_program_never_import_aerleon() -> None:
    """The export is plain text: neither the command nor the Pulumi program under the mock engine loads Aerleon."""
    code = (
        "import sys\n"
        "from components.cli import main\n"
        "assert main(['plan', '--stack', 'baremetal-example', '--format', 'json']) == 0\n"
        "assert main(['export', '--stack', 'baremetal-example', '-o', sys.argv[1]]) == 0\n"
        "loaded = sorted(m for m in sys.modules if m == 'aerleon' or m.startswith('aerleon.'))\n"
        "assert not loaded, loaded\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([sys.executable, "-c", code, out], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
