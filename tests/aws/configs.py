"""Configurations for the aws tests: a small base environment and a hypothesis strategy of varied ones."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

PEM = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"
SECRETS = {"awsAccessKeyId": "AKIDTESTSECRET0001", "awsSecretAccessKey": "wJalrTESTSECRETVALUE/0002"}

BASE: dict[str, Any] = {
    "platform": "snow",
    "adminMachine": {"addresses": ["10.0.0.10"]},
    "clients": {"api": ["192.168.0.0/24"], "ssh": ["10.0.9.0/24"], "nodePort": ["192.168.1.0/24"]},
    "endpoints": {"snowDevices": [{"name": "dev-a", "address": "10.0.1.2"}, {"name": "dev-b", "address": "10.0.1.3"}]},
    "clusters": [
        {
            "name": "mgmt",
            "controlPlane": {"endpoint": "10.0.2.100", "addresses": ["10.0.2.0/28"]},
            "workerGroups": [{"name": "md-0", "addresses": ["10.0.2.16/28"]}],
        },
        {
            "name": "w1",
            "managedBy": "mgmt",
            "controlPlane": {"endpoint": "10.0.3.100", "addresses": ["10.0.3.0/28"], "loadBalancer": {"address": "10.0.3.200"}},
            "etcd": {"external": True, "addresses": ["10.0.3.32/28"]},
            "workerGroups": [{"name": "md-0", "addresses": ["10.0.3.16/28"]}],
        },
    ],
    "aws": {"caBundle": PEM},
}

REGION = {"mode": "region", "region": "us-west-2", "vpcId": "vpc-0a1b2c3d4e5f67890"}


def config(**changes: Any) -> dict[str, Any]:
    """A deep copy of BASE with top-level keys replaced (``aws`` is merged key by key)."""
    cfg = copy.deepcopy(BASE)
    aws = changes.pop("aws", None)
    cfg.update(copy.deepcopy(changes))
    if aws is not None:
        cfg["aws"] = {**cfg["aws"], **copy.deepcopy(aws)} if "mode" not in aws or aws["mode"] == "snow" else copy.deepcopy(aws)
    return cfg


def region_config(**changes: Any) -> dict[str, Any]:
    aws = {**REGION, **changes.pop("aws", {})}
    return config(aws=aws, **changes)


# --- hypothesis ----------------------------------------------------------------------------------------


@st.composite
def environments(draw: st.DrawFn, mode: str | None = None) -> dict[str, Any]:
    """A varied, valid environment: 1-3 clusters (managedBy), external etcd, worker groups or none, an API
    load balancer, IPv6 ranges, Jenkins on/off, Cilium on/off, 1-3 devices, placement, group selection,
    the admin machine listed (or covered) in client lists."""
    counter = iter(range(1, 200))

    def v4(prefix: int = 28) -> str:
        n = next(counter)
        return f"10.{n}.0.0/{prefix}" if prefix < 32 else f"10.{n}.0.1"

    def v6() -> str:
        return f"fd00:{next(counter):x}::/64"

    def nets(min_size: int = 1, max_size: int = 2) -> list[str]:
        size = draw(st.integers(min_size, max_size))
        return [v6() if draw(st.booleans()) and draw(st.booleans()) else v4() for _ in range(size)]

    admin = [f"10.250.0.{draw(st.integers(2, 50))}"]
    if draw(st.booleans()):
        admin.append("fd00:250::10")
    n_clusters = draw(st.integers(1, 3))
    clusters: list[dict[str, Any]] = []
    for i in range(n_clusters):
        cp: dict[str, Any] = {"endpoint": v4(32), "addresses": nets()}
        if draw(st.booleans()) and draw(st.booleans()):
            cp["loadBalancer"] = {"address": v4(32), "port": draw(st.sampled_from([443, 6443]))}
        if draw(st.booleans()) and draw(st.booleans()):
            cp["apiServerPort"] = 443
        cluster: dict[str, Any] = {"name": f"c{i}", "controlPlane": cp}
        if i > 0 and draw(st.booleans()):
            cluster["managedBy"] = "c0"
        if draw(st.booleans()):
            cluster["etcd"] = {"external": True, "addresses": nets()}
        groups = draw(st.integers(0, 2))
        if groups:
            cluster["workerGroups"] = [{"name": f"md-{g}", "addresses": nets()} for g in range(groups)]
        clusters.append(cluster)

    def client_list() -> list[str]:
        out = nets(0, 2)
        choice = draw(st.sampled_from(["none", "exact", "covering"]))
        if choice == "exact":
            out.append(admin[0] + "/32")
        elif choice == "covering":
            out.append("10.250.0.0/24")
        return sorted(set(out))

    devices = [
        {"name": f"dev-{d}", "address": f"10.240.0.{d + 1}" if d or not draw(st.booleans()) else "fd00:240::1"}
        for d in range(draw(st.integers(1, 3)))
    ]
    cfg: dict[str, Any] = {
        "platform": "snow",
        "adminMachine": {"addresses": admin},
        "clients": {"api": client_list(), "ssh": client_list(), "nodePort": client_list()},
        "cilium": draw(st.booleans()),
        "endpoints": {"snowDevices": devices},
        "clusters": clusters,
    }
    jenkins = draw(st.booleans())
    if jenkins:
        cfg["managementTools"] = {"jenkins": {"address": "10.251.0.5", "clients": client_list() or ["10.252.0.0/24"]}}
    mode = mode or draw(st.sampled_from(["snow", "region"]))
    nodes = draw(st.booleans()) or draw(st.booleans())
    admin_group = draw(st.booleans())
    jenkins_group = jenkins and draw(st.booleans())
    if not (nodes or admin_group or jenkins_group):
        nodes = True
    selection = {"nodes": nodes, "adminMachine": admin_group, "jenkins": jenkins_group}
    if mode == "snow":
        aws: dict[str, Any] = {"mode": "snow", "insecure": True, "groups": selection}
        names = [d["name"] for d in devices]
        placement = {}
        for c in clusters:
            if draw(st.booleans()):
                placement[c["name"]] = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
        if placement:
            aws["placement"] = placement
    else:
        aws = {**REGION, "groups": selection}
    cfg["aws"] = aws
    return cfg
