"""Nutanix environments for the tests: one small base, and a hypothesis strategy over the options."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SUBNETS = [f"10.{a}.{b}.0/24" for a in range(40, 44) for b in range(0, 8)]
SUBNETS6 = [f"fd00:{a}:{b}::/64" for a in range(1, 4) for b in range(0, 8)]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def base(**nutanix: Any) -> dict[str, Any]:
    """One management cluster with workers, and a workload cluster with external etcd that it manages."""
    cfg: dict[str, Any] = {
        "platform": "nutanix",
        "adminMachine": {"addresses": ["10.10.0.5"]},
        "clients": {"api": ["10.20.0.0/16"], "ssh": ["10.20.5.0/24"], "nodePort": ["10.20.0.0/16"]},
        "endpoints": {"prismCentral": "10.0.0.20"},
        "clusters": [
            {
                "name": "mgmt",
                "controlPlane": {"endpoint": "10.10.1.100", "addresses": ["10.10.1.0/26"]},
                "workerGroups": [{"name": "md-0", "addresses": ["10.10.2.0/24"]}],
            },
            {
                "name": "prod",
                "managedBy": "mgmt",
                "controlPlane": {"endpoint": "10.11.1.100", "addresses": ["10.11.1.0/26"]},
                "etcd": {"external": True, "addresses": ["10.11.3.0/28"]},
                "workerGroups": [{"name": "md-0", "addresses": ["10.11.2.0/24"]}],
            },
        ],
    }
    if nutanix:
        cfg["nutanix"] = nutanix
    return cfg


def with_changes(cfg: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(cfg)
    out.update(changes)
    return out


@st.composite
def nutanix_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Random valid Nutanix environments: every option the flows know, IPv4, dual-stack and IPv6 peers."""
    pool = iter(draw(st.permutations(SUBNETS)))
    pool6 = iter(draw(st.permutations(SUBNETS6)))
    ipv6 = draw(st.sampled_from(["none", "peers", "dual-stack"]))

    def addresses() -> list[str]:
        nets = [next(pool)]
        if ipv6 == "dual-stack" and draw(st.booleans()):
            nets.append(next(pool6))
        return nets

    n = draw(st.integers(1, 3))
    names = draw(st.lists(st.sampled_from(["mgmt", "dev", "prod", "qa", "edge"]), min_size=n, max_size=n, unique=True))
    clusters = []
    for i, name in enumerate(names):
        c: dict[str, Any] = {
            "name": name,
            "controlPlane": {"endpoint": f"10.99.{i}.10", "addresses": addresses()},
            "workerGroups": [{"name": f"md-{j}", "addresses": addresses()} for j in range(draw(st.integers(0, 2)))],
        }
        if i > 0 and draw(st.booleans()):
            c["managedBy"] = names[0]
        etcd: dict[str, Any] = {}
        if draw(st.booleans()):
            etcd = {"external": True, "addresses": addresses()}
        if draw(st.booleans()):
            etcd.update(clientPort=12379, peerPort=12380)
        if etcd:
            c["etcd"] = etcd
        if draw(st.booleans()):
            c["controlPlane"]["apiServerPort"] = 443
        if draw(st.booleans()):
            c["controlPlane"]["loadBalancer"] = {"address": f"10.98.{i}.1", "port": draw(st.sampled_from([443, 6443]))}
        clusters.append(c)
    v6_peers = ["fd10::/64", "2001:db8:1::/48"] if ipv6 != "none" else []
    cfg: dict[str, Any] = {
        "platform": "nutanix",
        "cilium": draw(st.booleans()),
        "adminMachine": {"addresses": ["10.10.0.5", *(["fd00:ff::5"] if ipv6 == "dual-stack" else [])]},
        "clients": {
            "api": draw(st.lists(st.sampled_from(["10.20.0.0/16", "10.21.0.0/16", *v6_peers]), unique=True)),
            "ssh": draw(st.lists(st.sampled_from(["10.20.5.0/24", "10.22.0.0/24", *v6_peers]), unique=True)),
            "nodePort": draw(st.lists(st.sampled_from(["10.20.0.0/16", "192.0.2.0/24", *v6_peers]), unique=True)),
        },
        "endpoints": {"prismCentral": "10.0.0.20", "prismCentralPort": draw(st.sampled_from([9440, 9441]))},
        "clusters": clusters,
    }
    if draw(st.booleans()):
        cfg["managementTools"] = {"jenkins": {"address": "10.30.0.10", "clients": ["10.20.0.0/16"]}}
    section: dict[str, Any] = {}
    if draw(st.booleans()):
        section["state"] = draw(st.sampled_from(["MONITOR", "ENFORCE"]))
    if draw(st.booleans()):
        section["categoryKey"] = "Tier"
    if draw(st.booleans()):
        section["namePrefix"] = "fw-"
    if section:
        cfg["nutanix"] = section
    return cfg
