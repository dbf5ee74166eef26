"""Flows: canonical, deterministic, least-privilege, and always backed by a catalog row."""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.catalog import ADDONS, load_catalog
from components.endpoints import NODE_LOCAL
from components.flows import API_LOAD_BALANCER, build_flows, expand, row_applies, row_ports
from components.ports import PortRange, merge
from components.topology import parse_topology
from tests.test_topology import base

SUBNETS = [f"10.{a}.{b}.0/24" for a in range(40, 44) for b in range(0, 8)]


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """Random but valid environments, on any platform."""
    pool = iter(draw(st.permutations(SUBNETS)))
    platform = draw(st.sampled_from(["vsphere", "nutanix", "snow", "baremetal"]))
    n = draw(st.integers(1, 3))
    names = draw(st.lists(st.sampled_from(["mgmt", "dev", "prod", "qa", "edge"]), min_size=n, max_size=n, unique=True))
    clusters = []
    cilium = draw(st.booleans())
    for i, name in enumerate(names):
        c: dict[str, Any] = {
            "name": name,
            "controlPlane": {"endpoint": f"10.99.{i}.10", "addresses": [next(pool)]},
            "workerGroups": [{"name": f"md-{j}", "addresses": [next(pool)]} for j in range(draw(st.integers(0, 2)))],
        }
        if i > 0 and draw(st.booleans()):
            c["managedBy"] = names[0]
        if draw(st.booleans()):
            c["etcd"] = {"external": True, "addresses": [next(pool)]}
        if draw(st.booleans()):
            c["controlPlane"]["apiServerPort"] = 443
        if draw(st.booleans()):
            c["controlPlane"]["loadBalancer"] = {"address": f"10.98.{i}.1", "port": 443}
        addons = draw(st.lists(st.sampled_from(ADDONS), unique=True))
        addons = [a for a in addons if cilium or a != "hubble-relay"]  # hubble-relay is part of Cilium
        if addons:
            c["addons"] = addons
        if {"metallb-bgp", "kube-vip-bgp"} & set(addons):
            c["routers"] = draw(st.lists(st.sampled_from(["10.50.0.1", "10.50.0.2", "fd00:50::1"]), min_size=1, unique=True))
        if draw(st.booleans()):
            c["clusterNetwork"] = {"pods": draw(st.sampled_from(["172.16.0.0/16", "fd00:10::/56"])), "services": "172.20.0.0/16"}
        clusters.append(c)
    cfg: dict[str, Any] = {
        "platform": platform,
        "eksaVersion": draw(st.sampled_from(["v0.21", "v0.22", "v0.24", "v0.25", "latest"])),
        "cilium": cilium,
        "adminMachine": {"addresses": ["10.10.0.5"]},
        "clients": {
            "api": draw(st.lists(st.sampled_from(["10.20.0.0/16", "10.21.0.0/16", "fd00::/64"]), unique=True)),
            "ssh": draw(st.lists(st.sampled_from(["10.20.5.0/24", "10.22.0.0/24"]), unique=True)),
            "nodePort": draw(st.lists(st.sampled_from(["10.20.0.0/16", "192.0.2.0/24"]), unique=True)),
        },
        "endpoints": {
            "vcenter": "10.0.0.10",
            "prismCentral": "10.0.0.20",
            "snowDevices": [{"name": "dev1", "address": "10.0.0.31"}, {"name": "dev2", "address": "10.0.0.32"}],
            "tinkerbellIp": "10.0.0.40",
            "bmcs": [{"name": "m1", "address": "10.0.1.1"}] if draw(st.booleans()) else [],
        },
        "clusters": clusters,
    }
    if draw(st.booleans()):
        cfg["managementTools"] = {"jenkins": {"address": "10.30.0.10", "clients": ["10.20.0.0/16"]}}
    return cfg


def shuffled(cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    """The same environment with every list in another order."""
    rnd = random.Random(seed)
    out = copy.deepcopy(cfg)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            items = [walk(v) for v in value]
            rnd.shuffle(items)
            return items
        return value

    return walk(out)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(configs(), st.integers(0, 1000))
def test_flows_do_not_depend_on_input_order(cfg: dict[str, Any], seed: int) -> None:
    assert build_flows(parse_topology(shuffled(cfg, seed))) == build_flows(parse_topology(cfg))


@SETTINGS
@given(configs())
def test_flows_are_canonical_and_idempotent(cfg: dict[str, Any]) -> None:
    topology = parse_topology(cfg)
    flows = build_flows(topology)
    assert flows == build_flows(topology)
    keys = [(f.cluster, f.source, f.destination, f.protocol) for f in flows.flows]
    assert len(keys) == len(set(keys)), "one flow per (cluster, source, destination, protocol)"
    assert list(flows.flows) == sorted(flows.flows)
    for f in flows.flows:
        assert f.ports == merge(f.ports)  # merged: no overlapping or adjacent ranges left
        assert list(f.rows) == sorted(set(f.rows))


@SETTINGS
@given(configs())
def test_a_cluster_has_the_same_flows_alone_as_among_others(cfg: dict[str, Any]) -> None:
    # build_flows works clusters of one shape out once and stamps the result per cluster: a cluster planned with
    # others (sharing its shape's work) must get exactly what it gets planned alone (with its manager, if any).
    together = build_flows(parse_topology(cfg))
    for c in cfg["clusters"]:
        manager = [m for m in cfg["clusters"] if m["name"] == c.get("managedBy")]
        alone = build_flows(parse_topology({**cfg, "clusters": [c, *manager]}))
        assert alone.for_cluster(c["name"]) == together.for_cluster(c["name"])
        assert [lo for lo in alone.local_only if lo.cluster == c["name"]] == [lo for lo in together.local_only if lo.cluster == c["name"]]


@SETTINGS
@given(configs())
def test_no_flow_without_a_catalog_row(cfg: dict[str, Any]) -> None:
    topology = parse_topology(cfg)
    catalog = load_catalog()
    for f in build_flows(topology).flows:
        assert f.rows
        cluster = topology.cluster(f.cluster)
        rows = [catalog[r] for r in f.rows]
        assert all(row_applies(r, topology, cluster) for r in rows)
        assert all(r.protocol == f.protocol for r in rows)
        allowed = merge(
            [p for r in rows for p in row_ports(r, topology, cluster)]
            + ([PortRange.single(cluster.api_load_balancer.port)] if cluster.api_load_balancer else [])
        )
        assert all(any(a.lo <= p.lo and p.hi <= a.hi for a in allowed) for p in f.ports), f


@SETTINGS
@given(configs())
def test_least_privilege(cfg: dict[str, Any]) -> None:
    topology = parse_topology(cfg)
    catalog = load_catalog()
    for f in build_flows(topology).flows:
        sensitive = any(catalog[r].sensitive for r in f.rows)
        if f.source in NODE_LOCAL:
            assert topology.platform_spec.host_firewall, f  # only a firewall on the node sees its own pods
        if sensitive:
            # Workers only for the provider's etcd rows of a self-managed cluster: EKS-A's controllers may
            # run on any node of the management cluster; workers and the node's own pods for an add-on the
            # cluster enabled (metrics-server scrapes every kubelet).
            provider_only = all(catalog[r].table in ("vsphere", "nutanix", "snow") for r in f.rows)
            enabled_addon = all(catalog[r].addon in topology.cluster(f.cluster).addons for r in f.rows if catalog[r].sensitive)
            assert (
                f.source in ("control-plane", "etcd", "admin-machine", "management-cluster")
                or (f.source == "worker" and provider_only)
                or (f.source in ("worker", "pods-on-node") and enabled_addon)
            ), f
        if f.destination == "etcd" and not sensitive:
            assert f.ports == (PortRange.single(22),) and f.source == "ssh-clients", f
        if f.source == "ssh-clients":
            assert f.ports == (PortRange.single(22),)
        if not topology.cilium:
            assert not any(r.startswith("cilium-") for r in f.rows)


def test_self_only_rows_are_local_only() -> None:
    flows = build_flows(parse_topology(base()))
    assert {(x.cluster, x.row) for x in flows.local_only} == {
        (c, r) for c in ("dev", "mgmt") for r in ("cp-kube-scheduler", "cp-kube-controller-manager")
    }
    assert not any(r in f.rows for f in flows.flows for r in ("cp-kube-scheduler", "cp-kube-controller-manager"))


def flow_map(cfg: dict[str, Any]) -> dict[tuple[str, str, str, str], str]:
    return {(f.cluster, f.source, f.destination, f.protocol): f.ports_text for f in build_flows(parse_topology(cfg)).flows}


def test_stacked_and_external_etcd() -> None:
    flows = flow_map(base())
    # mgmt: stacked etcd, so etcd is the control plane; the provider's etcd rows are not needed
    assert flows[("mgmt", "control-plane", "control-plane", "tcp")] == "2379-2380|4240|6443|10250"
    assert ("mgmt", "admin-machine", "control-plane", "tcp") in flows and "2379" not in flows[
        ("mgmt", "admin-machine", "control-plane", "tcp")
    ]
    # dev: external etcd, reached by its control plane, its peers, the admin machine and the managing cluster
    for source in ("control-plane", "etcd", "admin-machine", "management-cluster"):
        assert flows[("dev", source, "etcd", "tcp")] == "2379-2380", source
    assert ("dev", "worker", "etcd", "tcp") not in flows
    assert flows[("dev", "ssh-clients", "etcd", "tcp")] == "22"


def test_custom_ports_and_api_server_on_443() -> None:
    cfg = base()
    cfg["clusters"][1]["etcd"].update(clientPort=12379, peerPort=12380)
    cfg["clusters"][1]["controlPlane"]["apiServerPort"] = 443
    flows = flow_map(cfg)
    assert flows[("dev", "control-plane", "etcd", "tcp")] == "12379-12380"
    assert flows[("dev", "api-clients", "control-plane-vip", "tcp")] == "443"
    assert "6443" not in flows[("dev", "worker", "control-plane", "tcp")]


def test_api_behind_a_load_balancer_on_443() -> None:
    cfg = base()
    cfg["clusters"][0]["controlPlane"]["loadBalancer"] = {"address": "10.10.9.9"}
    flows = flow_map(cfg)
    assert flows[("mgmt", "api-clients", API_LOAD_BALANCER, "tcp")] == "443"
    assert flows[("mgmt", API_LOAD_BALANCER, "control-plane", "tcp")] == "6443"
    assert ("mgmt", "api-clients", "control-plane", "tcp") not in flows
    assert flows[("mgmt", "worker", "control-plane-vip", "tcp")] == "6443"  # nodes keep using the VIP


def test_cilium_can_be_turned_off() -> None:
    on, off = flow_map(base()), flow_map({**base(), "cilium": False})
    assert on[("mgmt", "worker", "worker", "udp")] == "6081"
    assert on[("mgmt", "worker", "control-plane", "icmp")] == "8"
    assert not any(k[3] in ("udp", "icmp") for k in off)
    assert ("mgmt", "worker", "worker", "tcp") in off  # NodePorts stay


def test_jenkins_rows_need_jenkins() -> None:
    without = flow_map(base())
    cfg = {**base(), "managementTools": {"jenkins": {"address": "10.30.0.10", "clients": ["10.20.0.0/16"]}}}
    with_jenkins = flow_map(cfg)
    added = set(with_jenkins) - set(without)
    assert ("mgmt", "jenkins-clients", "jenkins", "tcp") in added
    assert with_jenkins[("mgmt", "jenkins-clients", "jenkins", "tcp")] == "8080|8443"
    assert with_jenkins[("mgmt", "jenkins", "control-plane", "tcp")] == "6443"
    assert set(without) <= set(with_jenkins)


def baremetal(version: str) -> dict[str, Any]:
    cfg = base()
    cfg.update(
        platform="baremetal", eksaVersion=version, endpoints={"tinkerbellIp": "10.0.0.40", "bmcs": [{"name": "m1", "address": "10.0.1.1"}]}
    )
    return cfg


def test_eksa_version_selects_the_bare_metal_rows() -> None:
    def tinkerbell_ports(version: str) -> str:
        return flow_map(baremetal(version))[("mgmt", "worker", "tinkerbell-vip", "tcp")]

    assert tinkerbell_ports("v0.21") == "80|42113|50061"
    assert tinkerbell_ports("v0.22") == tinkerbell_ports("v0.24.3") == "80|7171|42113|50061"
    assert tinkerbell_ports("v0.25") == tinkerbell_ports("latest") == "80|7171-7172|42113"
    udp = flow_map(baremetal("latest"))
    assert udp[("mgmt", "worker", "admin-machine", "udp")] == "67|69|514"  # DHCP renewals come from the node's address
    assert udp[("mgmt", "dhcp-clients", "admin-machine", "udp")] == "67"
    assert udp[("mgmt", "admin-machine", "bmc", "udp")] == "623"
    assert udp[("mgmt", "admin-machine", "bmc", "tcp")] == "80|443|623"
    # only the bare-metal rows move with the version
    v21, latest = build_flows(parse_topology(baremetal("v0.21"))), build_flows(parse_topology(baremetal("latest")))
    changed = {r for f in set(v21.flows) ^ set(latest.flows) for r in f.rows}
    assert changed and all(load_catalog()[r].table == "bare-metal" for r in changed if r in ("bm-hegel", "bm-smee-http", "bm-tootles"))


def test_platform_rows_follow_the_platform() -> None:
    rows = {p: {r for f in build_flows(parse_topology({**base(), "platform": p, "endpoints": e})).flows for r in f.rows} for p, e in [
        ("vsphere", {"vcenter": "10.0.0.10"}),
        ("nutanix", {"prismCentral": "10.0.0.20", "prismCentralPort": 9441}),
        ("snow", {"snowDevices": [{"name": "d1", "address": "10.0.0.31"}]}),
    ]}  # fmt: skip
    assert "vsphere-vcenter" in rows["vsphere"] and not any(r.startswith(("nutanix-", "snow-")) for r in rows["vsphere"])
    assert "nutanix-prism-central" in rows["nutanix"]
    assert {"snow-ec2-https", "snow-device-controller"} <= rows["snow"] and "snow-ec2-https-page" not in rows["snow"]
    pc = flow_map({**base(), "platform": "nutanix", "endpoints": {"prismCentral": "10.0.0.20", "prismCentralPort": 9441}})
    assert pc[("mgmt", "admin-machine", "prism-central", "tcp")] == "9441"


def test_expand_gives_address_level_accesses() -> None:
    topology = parse_topology(base())
    flows = build_flows(topology)
    accesses = expand(topology, [f for f in flows.flows if f.source == "ssh-clients" and f.cluster == "dev"])
    assert {(str(a.source), str(a.destination), a.ports.lo) for a in accesses} == {
        ("10.20.5.0/24", "10.11.1.0/26", 22),
        ("10.20.5.0/24", "10.11.3.0/28", 22),
        ("10.20.5.0/24", "10.11.2.0/24", 22),
    }
