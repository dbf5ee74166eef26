"""Add-ons, pods and the cluster network: what each platform's firewall is asked to allow, and the config around it.

The rules under test (docs/catalog.md, "Pods" and "Add-ons"):
- a row with ``addon`` applies only to the clusters that list the add-on;
- ``pods-on-node`` (a node's own pods reaching it) is a flow only where the firewall sits on the node (bare
  metal); security groups, NSX and Flow get the node-to-node flows only, never a pod range;
- pods reaching another node are masqueraded: every add-on row a pod uses also names ``nodes``;
- ``routers`` come with a BGP add-on, and only with one.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from typing import Any

import pytest

from components.catalog import ADDONS, load_catalog
from components.endpoints import NODE_LOCAL, PODS_ON_NODE, ROUTERS
from components.errors import ConfigError
from components.flows import build_flows, expand
from components.platform import platforms
from components.topology import DEFAULT_PODS_CIDR, DEFAULT_SERVICES_CIDR, parse_topology
from components.verify import verify
from tests.helpers import example_args, plan_config
from tests.test_topology import base

EXAMPLES = ("snow-example", "aws-region-example", "vsphere-example", "nutanix-example", "baremetal-example")
ROUTER = {"baremetal-example": "203.0.113.60"}  # the bare-metal example lives in the lab's documentation ranges


def with_every_addon(stack: str) -> dict[str, Any]:
    cfg = copy.deepcopy(example_args(stack))
    for c in cfg["clusters"]:
        c["addons"] = list(ADDONS)
        c["routers"] = [ROUTER.get(stack, "10.200.0.1")]
    return cfg


def test_every_addon_has_rows_and_every_addon_row_cites_its_upstream_source_and_version() -> None:
    catalog = load_catalog()
    for addon in ADDONS:
        rows = [r for r in catalog if r.addon == addon]
        assert rows, addon
        for r in rows:
            assert r.origin == "upstream" and r.citation, r.id
            assert any(ch.isdigit() for ch in r.citation), f"{r.id}: the citation names no version"
            if PODS_ON_NODE in r.sources:
                # A pod on another node arrives masqueraded to its node's address: the row must say so too.
                assert "nodes" in r.sources, r.id


def test_routers_are_what_the_bgp_addons_dial() -> None:
    assert load_catalog().addons_reaching(ROUTERS) == ("metallb-bgp", "kube-vip-bgp")
    for r in load_catalog():
        if ROUTERS in r.destinations:
            assert (r.protocol, r.ports_text, r.direction) == ("tcp", "179", "Outbound"), r.id


@pytest.mark.parametrize("stack", EXAMPLES)
def test_every_platform_verifies_with_every_addon(stack: str) -> None:
    """The objects of every platform allow exactly the flows, add-on flows included (verify counts them as required)."""
    p = plan_config(with_every_addon(stack))
    report = verify(p.topology, p.flows, p.run.resources)
    assert report.ok, report.to_json()
    addon_rows = {r.id for r in load_catalog() if r.addon}
    assert any(set(f.rows) & addon_rows for f in p.flows.flows)
    plain = plan_config(example_args(stack))
    nodes_decided = "worker" in platforms()[p.topology.platform].visibility(p.topology).inbound
    assert nodes_decided == (stack != "aws-region-example")  # that example's groups leave the nodes alone
    if nodes_decided:
        assert len(report.required) > len(verify(plain.topology, plain.flows, plain.run.resources).required)


@pytest.mark.parametrize("stack", EXAMPLES)
def test_what_each_firewall_sees_of_the_pods(stack: str) -> None:
    """Pod ranges reach the rules of a host firewall only; every platform gets the masqueraded node-to-node flows."""
    p = plan_config(with_every_addon(stack))
    host_firewall = platforms()[p.topology.platform].host_firewall
    pod_flows = [f for f in p.flows.flows if f.source in NODE_LOCAL]
    assert bool(pod_flows) == host_firewall == (stack == "baremetal-example")
    pod_ranges = {c.pods for c in p.topology.clusters}
    sources = {a.source for a in verify(p.topology, p.flows, p.run.resources).allowed}
    assert bool(pod_ranges & sources) == host_firewall
    for c in p.topology.clusters:
        kubelet = {(f.source, f.destination) for f in p.flows.for_cluster(c.name) if "metrics-server-kubelet" in f.rows}
        roles = {"control-plane", *(("worker",) if c.worker_groups else ())}
        assert {(s, d) for s, d in kubelet if s in roles} == {(s, d) for s in roles for d in roles}
        assert {(s, d) for s, d in kubelet if s == PODS_ON_NODE} == ({(PODS_ON_NODE, d) for d in roles} if host_firewall else set())


def test_addon_rows_apply_only_to_the_clusters_that_list_them() -> None:
    cfg = base()
    cfg["clusters"][1]["addons"] = ["metrics-server", "metallb"]
    flows = build_flows(parse_topology(cfg))
    addon_rows = {r.id for r in load_catalog() if r.addon}
    used = {(f.cluster, r) for f in flows.flows for r in f.rows if r in addon_rows}
    assert used == {("dev", "metrics-server-kubelet"), ("dev", "metallb-memberlist-tcp"), ("dev", "metallb-memberlist-udp")}
    memberlist = {(f.source, f.destination, f.protocol) for f in flows.for_cluster("dev") if "metallb-memberlist-udp" in f.rows}
    assert memberlist == {(s, d, "udp") for s in ("control-plane", "worker") for d in ("control-plane", "worker")}


def test_the_cilium_addon_rows_need_cilium() -> None:
    cfg = base()
    cfg["clusters"][0]["addons"] = ["hubble-relay", "prometheus"]
    rows = {r for f in build_flows(parse_topology(cfg)).flows for r in f.rows}
    assert {"hubble-relay-peers", "prometheus-cilium-agent", "prometheus-cilium-operator", "prometheus-node-exporter"} <= rows
    cfg["cilium"] = False
    cfg["clusters"][0]["addons"] = ["prometheus"]  # hubble-relay without Cilium is refused (below)
    rows = {r for f in build_flows(parse_topology(cfg)).flows for r in f.rows}
    assert "prometheus-node-exporter" in rows
    assert not rows & {"hubble-relay-peers", "prometheus-cilium-agent", "prometheus-cilium-operator"}


def test_bgp_flows_go_from_the_nodes_to_the_routers() -> None:
    cfg = base()
    cfg["clusters"][0].update(addons=["kube-vip-bgp"], routers=["10.50.0.1", "10.50.0.2"])
    topology = parse_topology(cfg)
    flows = [f for f in build_flows(topology).flows if f.destination == ROUTERS]
    assert {(f.cluster, f.source, f.protocol, f.ports_text) for f in flows} == {
        ("mgmt", "control-plane", "tcp", "179"),
        ("mgmt", "worker", "tcp", "179"),
    }
    destinations = {str(a.destination) for a in expand(topology, flows)}
    assert destinations == {"10.50.0.1/32", "10.50.0.2/32"}


def test_the_bare_metal_pod_rules_come_from_the_pods_cidr_and_stop_at_the_page_and_the_addons() -> None:
    """Without add-ons, a node's own pods reach only the API server (the page's "All"): nothing else."""
    cfg = copy.deepcopy(example_args("baremetal-example"))
    cfg["clusters"][0].pop("addons", None)
    cfg["clusters"][0]["clusterNetwork"] = {"pods": "10.244.0.0/16"}
    topology = parse_topology(cfg, read_file=lambda p: open(p, encoding="utf-8").read())  # noqa: SIM115 - the CSV, read once
    pods = [f for f in build_flows(topology).flows if f.source == PODS_ON_NODE]
    assert {(f.destination, f.protocol, f.ports_text, f.rows) for f in pods} == {
        ("control-plane", "tcp", "6443", ("cp-kube-apiserver",)),
        ("control-plane-vip", "tcp", "6443", ("cp-kube-apiserver",)),
    }
    assert {a.source for a in expand(topology, pods)} == {ipaddress.ip_network("10.244.0.0/16")}
    cfg["clusters"][0]["addons"] = ["metrics-server"]
    topology = parse_topology(cfg, read_file=lambda p: open(p, encoding="utf-8").read())  # noqa: SIM115
    pods = {(f.destination, f.ports_text) for f in build_flows(topology).flows if f.source == PODS_ON_NODE}
    assert pods == {("control-plane", "6443|10250"), ("control-plane-vip", "6443"), ("worker", "10250")}


def test_a_pod_range_that_covers_the_internet_cannot_reach_the_kubelet() -> None:
    cfg = copy.deepcopy(example_args("baremetal-example"))
    cfg["clusters"][0].update(addons=["metrics-server"], clusterNetwork={"pods": "0.0.0.0/1"})
    cfg["allowOverlappingRoles"] = True
    with pytest.raises(ConfigError) as err:
        build_flows(parse_topology(cfg, read_file=lambda p: open(p, encoding="utf-8").read()))  # noqa: SIM115
    keys = {p.key for p in err.value.problems}
    assert "clusters[0].clusterNetwork.pods" in keys


# --- config ---------------------------------------------------------------------------------------


def test_the_cluster_network_defaults_to_eksas() -> None:
    c = parse_topology(base()).cluster("mgmt")
    assert (c.pods, c.services, c.defaulted) == (DEFAULT_PODS_CIDR, DEFAULT_SERVICES_CIDR, frozenset({"pods", "services"}))
    assert (str(DEFAULT_PODS_CIDR), str(DEFAULT_SERVICES_CIDR)) == ("192.168.0.0/16", "10.96.0.0/12")
    cfg = base()
    cfg["clusters"][0]["clusterNetwork"] = {"pods": "172.16.0.0/16"}
    c = parse_topology(cfg).cluster("mgmt")
    assert (str(c.pods), c.services, c.defaulted) == ("172.16.0.0/16", DEFAULT_SERVICES_CIDR, frozenset({"services"}))


def _problems(cfg: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ConfigError) as err:
        parse_topology(cfg, key_prefix="eksa-firewall:")
    out: dict[str, list[str]] = {}
    for p in err.value.problems:
        out.setdefault(p.key, []).append(f"{p.message} | {p.fix}")
    return out


def test_unknown_or_repeated_addons_are_refused_with_a_hint() -> None:
    cfg = base()
    cfg["clusters"][0]["addons"] = ["metric-server", "metallb", "metallb"]
    found = _problems(cfg)
    assert "did you mean 'metrics-server'" in found["eksa-firewall:clusters[0].addons[0]"][0]
    assert "listed twice" in found["eksa-firewall:clusters[0].addons[2]"][0]


def test_bgp_needs_routers_and_routers_need_bgp() -> None:
    cfg = base()
    cfg["clusters"][0]["addons"] = ["metallb-bgp", "metrics-server"]
    (msg,) = _problems(cfg)["eksa-firewall:clusters[0].routers"]
    assert "required by metallb-bgp in eksa-firewall:clusters[0].addons" in msg and "BGPPeer.peerAddress" in msg
    cfg = base()
    cfg["clusters"][1]["routers"] = ["10.50.0.1"]
    (msg,) = _problems(cfg)["eksa-firewall:clusters[1].routers"]
    assert "no add-on of this cluster speaks BGP" in msg and "metallb-bgp or kube-vip-bgp" in msg
    cfg["clusters"][1]["addons"] = ["kube-vip-bgp"]
    cfg["clusters"][0].update(addons=["metallb-bgp"], routers=["10.50.0.1"])  # clusters may share their routers
    parse_topology(cfg)


def test_a_range_in_eksas_list_form_or_a_single_address_is_refused() -> None:
    cfg = base()
    cfg["clusters"][0]["clusterNetwork"] = {"pods": {"cidrBlocks": ["172.16.0.0/16"]}, "services": "172.20.0.1"}
    found = _problems(cfg)
    assert "cidrBlocks[0]" in found["eksa-firewall:clusters[0].clusterNetwork.pods"][0]
    assert "single address" in found["eksa-firewall:clusters[0].clusterNetwork.services"][0]


def test_pod_and_service_ranges_hold_no_machine_whatever_allow_overlapping_roles_says() -> None:
    cfg = base()
    cfg["allowOverlappingRoles"] = True
    cfg["clusters"][0]["clusterNetwork"] = {"pods": "10.10.0.0/16", "services": "10.11.1.0/24"}
    found = _problems(cfg)
    (pods,) = found["eksa-firewall:clusters[0].clusterNetwork.pods"]
    assert "overlaps 10.10.0.5/32 of eksa-firewall:adminMachine.addresses (admin-machine)" in pods
    assert "10.10.1.0/26 of eksa-firewall:clusters[0].controlPlane.addresses (mgmt control-plane)" in pods
    assert "and 1 more" in pods and "spec.clusterNetwork.pods.cidrBlocks[0]" in pods
    (services,) = found["eksa-firewall:clusters[0].clusterNetwork.services"]
    assert "(dev control-plane)" in services and "(dev control-plane-vip)" in services


def test_a_machine_range_around_a_pod_range_is_seen_too() -> None:
    cfg = base()
    cfg["clusters"][0]["workerGroups"][0]["addresses"] = ["10.12.0.0/16"]
    cfg["clusters"][0]["clusterNetwork"] = {"pods": "10.12.128.0/17"}
    (msg,) = _problems(cfg)["eksa-firewall:clusters[0].clusterNetwork.pods"]
    assert "overlaps 10.12.0.0/16 of eksa-firewall:clusters[0].workerGroups[0].addresses (mgmt worker)" in msg


def test_pods_and_services_of_one_cluster_are_apart_and_clusters_may_share_theirs() -> None:
    cfg = base()
    for c in cfg["clusters"]:
        c["clusterNetwork"] = {"pods": "172.16.0.0/16", "services": "172.20.0.0/16"}
    parse_topology(cfg)  # the same ranges in two clusters: fine, they never leave their cluster
    cfg["clusters"][0]["clusterNetwork"] = {"pods": "172.16.0.0/12", "services": "172.20.0.0/16"}
    (msg,) = _problems(cfg)["eksa-firewall:clusters[0].clusterNetwork.pods"]
    assert "172.20.0.0/16 of eksa-firewall:clusters[0].clusterNetwork.services (mgmt services)" in msg


def test_a_default_range_is_checked_only_where_it_becomes_rules() -> None:
    """EKS-A's defaults are a guess when the stack says nothing: a node in 10.96.0.0/12 is no error on vSphere (the
    Service range makes no rule), but a bare-metal node in the default pod range is (it would be admitted as a pod)."""
    cfg = base()
    cfg["clusters"][0]["workerGroups"][0]["addresses"] = ["10.100.2.0/24", "192.168.7.0/24"]
    parse_topology(cfg)
    cfg["clusters"][0]["clusterNetwork"] = {"services": "10.96.0.0/12"}
    assert "eksa-firewall:clusters[0].clusterNetwork.services" in _problems(cfg)

    bm = copy.deepcopy(example_args("baremetal-example"))
    bm.pop("hardwareCsv")
    bm["clusters"][0]["controlPlane"] = {"endpoint": "192.168.1.100", "addresses": ["192.168.1.11"]}
    bm["clusters"][0].pop("workerGroups")
    bm["clusters"][0].pop("clusterNetwork")
    (msg,) = _problems(bm)["eksa-firewall:clusters[0].clusterNetwork.pods"]
    assert "192.168.0.0/16 (EKS-A's default: the stack does not set it) overlaps 192.168.1.11/32" in msg


def test_matrix_shows_the_addon_rows_and_pods_only_where_a_firewall_sees_them(capsys: pytest.CaptureFixture[str]) -> None:
    from components.cli import main

    assert main(["matrix", "--platform", "vsphere", "--format", "json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert {r["addon"] for r in rows.values()} == {None, *ADDONS}
    assert main(["matrix", "--platform", "vsphere", "--format", "markdown"]) == 0
    table = capsys.readouterr().out
    assert "addon metrics-server" in table and "cilium, addon hubble-relay" in table and "pods-on-node" not in table
    assert main(["matrix", "--platform", "baremetal", "--format", "markdown"]) == 0
    assert "nodes, pods-on-node" in capsys.readouterr().out


def test_a_cilium_addon_without_cilium_is_refused() -> None:
    cfg = base()
    cfg["cilium"] = False
    cfg["clusters"][0]["addons"] = ["hubble-relay", "prometheus"]  # prometheus still scrapes node-exporter
    (msg,) = _problems(cfg)["eksa-firewall:clusters[0].addons"]
    assert "lists hubble-relay, which is part of Cilium, but eksa-firewall:cilium is false" in msg
