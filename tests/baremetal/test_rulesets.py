"""The planner and the renderer: what the nftables text says, for the example and its variants."""

from __future__ import annotations

import re

from components.baremetal.hosts import host_roles
from components.baremetal.nftables import delete_script, render
from components.baremetal.planner import GLOBAL_ENDPOINTS, plan_rulesets
from components.baremetal.settings import parse_settings
from components.flows import build_flows, endpoint_addresses
from components.topology import parse_topology
from tests.baremetal.common import example_config, external_etcd_config, ipv6_config, workload_cluster_config
from tests.helpers import read_file


def rendered(cfg: dict) -> dict[str, str]:
    topology = parse_topology(cfg, read_file=read_file)
    specs = plan_rulesets(topology, build_flows(topology), parse_settings(topology))
    return {s.host.key: render(s) for s in specs}


def rules(text: str) -> list[str]:
    body = text.split("chain input {", 1)[1]
    return [line.strip() for line in body.splitlines()[2:] if line.strip() not in ("}", "")]


def test_one_ruleset_per_host_role() -> None:
    assert sorted(rendered(example_config())) == ["admin-machine", "mgmt/control-plane", "mgmt/worker"]
    assert sorted(rendered(external_etcd_config())) == ["admin-machine", "mgmt/control-plane", "mgmt/etcd", "mgmt/worker"]
    assert sorted(rendered(workload_cluster_config())) == [
        "admin-machine",
        "mgmt/control-plane",
        "mgmt/worker",
        "prod/control-plane",
        "prod/worker",
    ]


def test_atomic_idempotent_replacement_of_one_table() -> None:
    for key, text in rendered(example_config()).items():
        lines = [line for line in text.splitlines() if not line.startswith("#")]
        assert lines[:3] == ["table inet eksa_firewall {}", "delete table inet eksa_firewall", "table inet eksa_firewall {"], key
        assert "flush ruleset" not in text and "flush" not in text
        assert len(re.findall(r"^table ", text, re.M)) == 2  # the same table only
        assert "\t\ttype filter hook input priority filter; policy drop;\n" in text
        assert rules(text)[:3] == ["ct state established,related accept", "ct state invalid drop", "iif lo accept"]
        assert "hook forward" not in text and "hook output" not in text
    assert delete_script("eksa_firewall") == "table inet eksa_firewall {}\ndelete table inet eksa_firewall\n"


def test_table_name_and_reject_setting() -> None:
    cfg = example_config()
    cfg["baremetal"] = {"table": "edge", "defaultAction": "reject"}
    text = rendered(cfg)["mgmt/worker"]
    code = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert code.count("table inet edge") == 3 and "eksa_firewall" not in code
    assert rules(text)[-1] == "reject with icmpx type admin-prohibited"
    assert "# Default policy: inbound packets not accepted below are rejected" in text


def test_worker_ruleset() -> None:
    worker = rules(rendered(example_config())["mgmt/worker"])[3:]
    assert worker == [
        'ip saddr @control_plane_at_mgmt_v4 ip daddr @worker_at_mgmt_v4 icmp type echo-request accept comment "mgmt: control-plane -> worker (cilium-icmp-echo)"',
        'ip saddr @control_plane_at_mgmt_v4 ip daddr @worker_at_mgmt_v4 tcp dport { 4240, 10250, 30000-32767 } accept comment "mgmt: control-plane -> worker (cilium-health, metrics-server-kubelet, worker-kubelet, worker-nodeport)"',
        'ip saddr @control_plane_at_mgmt_v4 ip daddr @worker_at_mgmt_v4 udp dport 6081 accept comment "mgmt: control-plane -> worker (cilium-geneve)"',
        'ip saddr @nodeport_clients_v4 ip daddr @worker_at_mgmt_v4 tcp dport 30000-32767 accept comment "mgmt: nodeport-clients -> worker (worker-nodeport)"',
        # The example enables metrics-server: a worker's own pods reach its kubelet from their pod addresses.
        'ip saddr @pods_on_node_at_mgmt_v4 ip daddr @worker_at_mgmt_v4 tcp dport 10250 accept comment "mgmt: pods-on-node -> worker (metrics-server-kubelet)"',
        'ip saddr @ssh_clients_v4 ip daddr @worker_at_mgmt_v4 tcp dport 22 accept comment "mgmt: ssh-clients -> worker (worker-ssh)"',
        'ip saddr @worker_at_mgmt_v4 ip daddr @worker_at_mgmt_v4 icmp type echo-request accept comment "mgmt: worker -> worker (cilium-icmp-echo)"',
        'ip saddr @worker_at_mgmt_v4 ip daddr @worker_at_mgmt_v4 tcp dport { 4240, 10250, 30000-32767 } accept comment "mgmt: worker -> worker (cilium-health, metrics-server-kubelet, worker-nodeport)"',
        'ip saddr @worker_at_mgmt_v4 ip daddr @worker_at_mgmt_v4 udp dport 6081 accept comment "mgmt: worker -> worker (cilium-geneve)"',
    ]
    text = rendered(example_config())["mgmt/worker"]
    assert "elements = { 198.51.100.21, 198.51.100.22 }" in text  # from the hardware CSV's type=worker machines
    assert "elements = { 203.0.113.128/25 }" in text  # pods_on_node_at_mgmt_v4: the cluster's clusterNetwork.pods


def test_dhcp_from_unaddressed_machines_also_accepts_the_broadcast() -> None:
    r = rendered(example_config())
    assert (
        'ip saddr @dhcp_clients_v4 ip daddr { 198.51.100.5, 255.255.255.255 } udp dport 67 accept comment "mgmt: dhcp-clients -> admin-machine (bm-dhcp)"'
        in rules(r["admin-machine"])
    )
    assert any(
        line.startswith("ip saddr @dhcp_clients_v4 ip daddr { 198.51.100.100, 255.255.255.255 } udp dport 67 accept")
        for line in rules(r["mgmt/control-plane"])
    )
    assert not any("255.255.255.255" in line for line in rules(r["mgmt/worker"]))


def test_workload_cluster_reaches_tinkerbell_on_the_management_control_plane() -> None:
    r = rendered(workload_cluster_config())
    mgmt_cp = rules(r["mgmt/control-plane"])
    assert any(
        line.startswith("ip saddr @worker_at_prod_v4 ip daddr @tinkerbell_vip_v4 tcp dport { 80, 7171-7172, 42113 } accept")
        for line in mgmt_cp
    )
    assert not any("tinkerbell_vip" in line for line in rules(r["prod/control-plane"]))
    roles = {h.key: h for h in host_roles(parse_topology(workload_cluster_config(), read_file=read_file))}
    assert [str(v) for v in roles["mgmt/control-plane"].vips] == ["198.51.100.100/32", "198.51.100.101/32"]
    assert [str(v) for v in roles["prod/control-plane"].vips] == ["198.51.100.151/32"]


def test_ipv6_rules_and_neighbour_discovery() -> None:
    r = rendered(ipv6_config())
    cp = rules(r["mgmt/control-plane"])
    assert "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } ip6 hoplimit 255 accept" in cp
    assert any(
        line.startswith("ip6 saddr @worker_at_mgmt_v6 ip6 daddr @control_plane_at_mgmt_v6 icmpv6 type echo-request accept") for line in cp
    )
    assert any(line.startswith("ip6 saddr @api_clients_v6 ip6 daddr @control_plane_at_mgmt_v6 tcp dport 6443 accept") for line in cp)
    assert "type ipv6_addr" in r["mgmt/control-plane"]
    assert "nd-neighbor-solicit" not in rendered(example_config())["mgmt/control-plane"]


def test_rendering_is_deterministic() -> None:
    assert rendered(example_config()) == rendered(example_config())
    cfg = example_config()
    cfg["clients"]["api"] = list(reversed(cfg["clients"]["api"]))
    assert rendered(cfg) == rendered(example_config())


def test_cluster_independent_endpoints_really_are() -> None:
    # The planner names these endpoints' sets without the cluster and builds each set once for all clusters:
    # that is only right while their addresses do not depend on the cluster.
    topology = parse_topology(workload_cluster_config(), read_file=read_file)
    for endpoint in GLOBAL_ENDPOINTS:
        assert len({endpoint_addresses(topology, c, endpoint) for c in topology.clusters}) == 1, endpoint
