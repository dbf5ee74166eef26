"""Flows: canonical, deterministic, least-privilege, and always backed by a catalog row."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.catalog import load_catalog
from components.endpoints import NODE_LOCAL
from components.errors import ConfigError
from components.flows import API_LOAD_BALANCER, build_flows, expand, row_applies, row_ports
from components.ports import PortRange, merge
from components.topology import parse_topology
from tests.environments import JENKINS, edit_cluster, environment, environments
from tests.helpers import shuffled

SETTINGS = settings(max_examples=60)


@SETTINGS
@given(environments(), st.integers(0, 1000))
def test_flows_do_not_depend_on_input_order(cfg: dict[str, Any], seed: int) -> None:
    assert build_flows(parse_topology(shuffled(cfg, seed))) == build_flows(parse_topology(cfg))


@SETTINGS
@given(environments())
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
@given(environments())
def test_a_cluster_has_the_same_flows_alone_as_among_others(cfg: dict[str, Any]) -> None:
    # A cluster's flows depend on that cluster and its manager only: planned among others, a cluster gets exactly
    # what it gets planned alone (with its manager, if any).
    together = build_flows(parse_topology(cfg))
    for c in cfg["clusters"]:
        manager = [m for m in cfg["clusters"] if m["name"] == c.get("managedBy")]
        alone = build_flows(parse_topology({**cfg, "clusters": [c, *manager]}))
        assert alone.for_cluster(c["name"]) == together.for_cluster(c["name"])
        assert [lo for lo in alone.local_only if lo.cluster == c["name"]] == [lo for lo in together.local_only if lo.cluster == c["name"]]


@SETTINGS
@given(environments())
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
@given(environments())
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
    flows = build_flows(parse_topology(environment("vsphere")))
    assert {(x.cluster, x.row) for x in flows.local_only} == {
        (c, r) for c in ("mgmt", "prod") for r in ("cp-kube-scheduler", "cp-kube-controller-manager")
    }
    assert not any(r in f.rows for f in flows.flows for r in ("cp-kube-scheduler", "cp-kube-controller-manager"))


def flow_map(cfg: dict[str, Any]) -> dict[tuple[str, str, str, str], str]:
    return {(f.cluster, f.source, f.destination, f.protocol): f.ports_text for f in build_flows(parse_topology(cfg)).flows}


def test_stacked_and_external_etcd() -> None:
    flows = flow_map(environment("vsphere"))
    # mgmt: stacked etcd, so etcd is the control plane; the provider's etcd rows are not needed
    assert flows[("mgmt", "control-plane", "control-plane", "tcp")] == "2379-2380|4240|6443|10250"
    assert ("mgmt", "admin-machine", "control-plane", "tcp") in flows and "2379" not in flows[
        ("mgmt", "admin-machine", "control-plane", "tcp")
    ]
    # prod: external etcd, reached by its control plane, its peers, the admin machine and the managing cluster
    for source in ("control-plane", "etcd", "admin-machine", "management-cluster"):
        assert flows[("prod", source, "etcd", "tcp")] == "2379-2380", source
    assert ("prod", "worker", "etcd", "tcp") not in flows
    assert flows[("prod", "ssh-clients", "etcd", "tcp")] == "22"


def test_custom_ports_and_api_server_on_443() -> None:
    cfg = edit_cluster(environment("vsphere"), "prod", etcd={"clientPort": 12379, "peerPort": 12380}, controlPlane={"apiServerPort": 443})
    flows = flow_map(cfg)
    assert flows[("prod", "control-plane", "etcd", "tcp")] == "12379-12380"
    assert flows[("prod", "api-clients", "control-plane-vip", "tcp")] == "443"
    assert "6443" not in flows[("prod", "worker", "control-plane", "tcp")]


def test_api_behind_a_load_balancer_on_443() -> None:
    flows = flow_map(edit_cluster(environment("vsphere"), "mgmt", controlPlane={"loadBalancer": {"address": "10.10.9.9"}}))
    assert flows[("mgmt", "api-clients", API_LOAD_BALANCER, "tcp")] == "443"
    assert flows[("mgmt", API_LOAD_BALANCER, "control-plane", "tcp")] == "6443"
    assert ("mgmt", "api-clients", "control-plane", "tcp") not in flows
    assert flows[("mgmt", "worker", "control-plane-vip", "tcp")] == "6443"  # nodes keep using the VIP


def test_cilium_can_be_turned_off() -> None:
    on, off = flow_map(environment("vsphere")), flow_map(environment("vsphere", cilium=False))
    assert on[("mgmt", "worker", "worker", "udp")] == "6081"
    assert on[("mgmt", "worker", "control-plane", "icmp")] == "8"
    assert not any(k[3] in ("udp", "icmp") for k in off)
    assert ("mgmt", "worker", "worker", "tcp") in off  # NodePorts stay


def test_jenkins_rows_need_jenkins() -> None:
    without = flow_map(environment("vsphere"))
    with_jenkins = flow_map(environment("vsphere", managementTools=JENKINS))
    added = set(with_jenkins) - set(without)
    assert ("mgmt", "jenkins-clients", "jenkins", "tcp") in added
    assert with_jenkins[("mgmt", "jenkins-clients", "jenkins", "tcp")] == "8080|8443"
    assert with_jenkins[("mgmt", "jenkins", "control-plane", "tcp")] == "6443"
    assert set(without) <= set(with_jenkins)


def baremetal(version: str) -> dict[str, Any]:
    return environment("baremetal", eksaVersion=version)  # with a BMC (endpoints.bmcs)


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
    envs = {p: environment(p) for p in ("vsphere", "snow")} | {"nutanix": environment("nutanix", endpoints={"prismCentralPort": 9441})}
    rows = {p: {r for f in build_flows(parse_topology(env)).flows for r in f.rows} for p, env in envs.items()}
    assert "vsphere-vcenter" in rows["vsphere"] and not any(r.startswith(("nutanix-", "snow-")) for r in rows["vsphere"])
    assert "nutanix-prism-central" in rows["nutanix"]
    assert {"snow-ec2-https", "snow-device-controller"} <= rows["snow"] and "snow-ec2-https-page" not in rows["snow"]
    pc = flow_map(envs["nutanix"])
    assert pc[("mgmt", "admin-machine", "prism-central", "tcp")] == "9441"


def test_expand_gives_address_level_accesses() -> None:
    topology = parse_topology(environment("vsphere"))
    flows = build_flows(topology)
    accesses = expand(topology, [f for f in flows.flows if f.source == "ssh-clients" and f.cluster == "prod"])
    assert {(str(a.source), str(a.destination), a.ports.lo) for a in accesses} == {
        ("10.20.5.0/24", "10.11.1.0/26", 22),
        ("10.20.5.0/24", "10.11.3.0/28", 22),
        ("10.20.5.0/24", "10.11.2.0/24", 22),
    }


def test_equal_ports_and_rows_are_one_tuple_shared_by_the_flows() -> None:
    from tests.bench.generate import case, generated_config
    from tests.helpers import PROJECT_DIR

    cfg = generated_config(case("baremetal"), 10)
    flows = build_flows(parse_topology(cfg, read_file=lambda p: (PROJECT_DIR / p).read_text(encoding="utf-8"))).flows
    assert len({f.cluster for f in flows}) == 10
    assert len({id(f.ports) for f in flows}) == len({f.ports for f in flows}) < len(flows)
    assert len({id(f.rows) for f in flows}) == len({f.rows for f in flows}) < len(flows)


def test_a_sensitive_row_is_judged_only_where_it_reaches_a_machine() -> None:
    # A control plane listed as the whole IPv6 Internet, in a cluster with no worker groups: its own kubelet is
    # exposed (cp-kubelet), but the row towards the workers' kubelet (worker-kubelet) opens nothing here.
    cfg = environment("vsphere")
    cluster = cfg["clusters"][0]
    cluster["controlPlane"]["addresses"] = ["::/0"]
    cluster.pop("workerGroups", None)
    with pytest.raises(ConfigError) as refused:
        build_flows(parse_topology(cfg))
    messages = [p.message for p in refused.value.problems]
    assert any("catalog row cp-kubelet" in m for m in messages)
    assert not any("catalog row worker-kubelet" in m for m in messages)
