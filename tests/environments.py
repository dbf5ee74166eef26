"""Test environments: one builder and one hypothesis strategy, for every platform.

An environment is what a stack file says, un-namespaced: the component ``args`` dict that
``tests.helpers.plan_config`` and ``components.topology.parse_topology`` take.

``environment(platform, **overrides)``
    The base environment of ``platform`` with ``overrides`` applied. Every platform shares one shape (below),
    and adds only its endpoints and its config section.
``from_stack(name, **overrides)``
    A stack of ``stacks/`` as the base instead (the bare-metal tests use the example: its hardware CSV and the
    documentation ranges the lab is built from).
``environments(platform=None)``
    A hypothesis strategy of random valid environments of ``platform`` (any platform when None).

Overrides, in this one place: an override is a JSON Merge Patch (RFC 7396) of the base.
- a mapping merges into the base's mapping key by key, recursively (``aws={"groups": {...}}`` keeps ``aws.caBundle``);
- ``None`` removes the key (``clients={"nodePort": None}``, ``aws={"caBundle": None}``);
- anything else, a list included, replaces the base's value whole: lists are never merged, so write the whole
  list. Lists of clusters and worker groups have stable keys (their names), so the helpers below edit them by
  name: ``edit_cluster``, ``add_cluster``, ``remove_cluster``, ``add_worker_group``, ``edit_worker_group``.
Every function returns a new environment (deep copies): the result is the caller's to edit in place too.

The shared shape (``base_shape``): the admin machine 10.10.0.5; API clients 10.20.0.0/16, SSH clients 10.20.5.0/24,
NodePort clients 10.20.0.0/16; a management cluster ``mgmt`` (stacked etcd, worker group ``md-0``) and a workload
cluster ``prod`` managed by it (external etcd, worker group ``md-0``). Cluster ``i`` of the address plan lives in
10.(10 + i).0.0/16 (``cluster_config``): the control-plane VIP .1.100, the control plane .1.0/26, etcd .3.0/28, worker
groups .2.0/24, .4.0/24, .5.0/24, ...
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from hypothesis import strategies as st

from components.catalog import ADDONS
from components.platform import platform_names

Environment = dict[str, Any]

PEM = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"
ADMIN_MACHINE = "10.10.0.5"
JENKINS: dict[str, Any] = {"jenkins": {"address": "10.30.0.10", "clients": ["10.20.0.0/16"]}}
"""``managementTools=JENKINS``: Jenkins on 10.30.0.10, reached from the API clients' range."""
PROD_LOAD_BALANCER = {"controlPlane": {"loadBalancer": {"address": "10.11.1.200"}}}
"""``edit_cluster(env, "prod", **PROD_LOAD_BALANCER)``: an API load balancer in front of prod's control plane."""
AWS_SECRETS = {"awsAccessKeyId": "AKIDTESTSECRET0001", "awsSecretAccessKey": "wJalrTESTSECRETVALUE/0002"}
"""``plan_config(env, secrets=AWS_SECRETS)``: fake AWS keys, passed as secret config values."""
AWS_REGION: dict[str, Any] = {"mode": "region", "region": "us-west-2", "vpcId": "vpc-0a1b2c3d4e5f67890", "caBundle": None}
"""``aws=AWS_REGION``: the snow platform in a regional VPC (the Snow-only ``caBundle`` removed)."""

# What each platform adds to the shared shape: its endpoints and its config section (None: no section).
PLATFORM_PARTS: dict[str, tuple[dict[str, Any], tuple[str, dict[str, Any]] | None]] = {
    "snow": (
        {"snowDevices": [{"name": "dev-a", "address": "10.0.0.31"}, {"name": "dev-b", "address": "10.0.0.32"}]},
        ("aws", {"caBundle": PEM}),
    ),
    "vsphere": ({"vcenter": "10.0.0.10"}, ("vsphere", {"nsx": {"host": "nsx.example.com", "username": "admin"}})),
    "nutanix": ({"prismCentral": "10.0.0.20"}, None),
    "baremetal": ({"tinkerbellIp": "10.0.0.40", "bmcs": [{"name": "m1", "address": "10.0.1.1"}]}, None),
}


# --- the builder -------------------------------------------------------------------------------------------


def merge(base: Any, patch: Any) -> Any:
    """``base`` with the JSON Merge Patch ``patch`` applied (RFC 7396, section 2); neither is changed."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = copy.deepcopy(dict(base)) if isinstance(base, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out


def cluster_config(
    name: str,
    index: int,
    *,
    managed_by: str | None = None,
    external_etcd: bool = False,
    worker_groups: Iterable[str] = ("md-0",),
) -> dict[str, Any]:
    """Cluster ``index`` of the address plan (module docstring): 10.(10 + index).0.0/16."""
    n = 10 + index
    cluster: dict[str, Any] = {"name": name}
    if managed_by is not None:
        cluster["managedBy"] = managed_by
    cluster["controlPlane"] = {"endpoint": f"10.{n}.1.100", "addresses": [f"10.{n}.1.0/26"]}
    if external_etcd:
        cluster["etcd"] = {"external": True, "addresses": [f"10.{n}.3.0/28"]}
    groups = [{"name": g, "addresses": [f"10.{n}.{2 if i == 0 else 3 + i}.0/24"]} for i, g in enumerate(worker_groups)]
    if groups:
        cluster["workerGroups"] = groups
    return cluster


def base_shape() -> Environment:
    """What every platform's base environment shares (without ``platform``, endpoints and section)."""
    return {
        "adminMachine": {"addresses": [ADMIN_MACHINE]},
        "clients": {"api": ["10.20.0.0/16"], "ssh": ["10.20.5.0/24"], "nodePort": ["10.20.0.0/16"]},
        "clusters": [cluster_config("mgmt", 0), cluster_config("prod", 1, managed_by="mgmt", external_etcd=True)],
    }


def environment(platform: str, /, **overrides: Any) -> Environment:
    """The base environment of ``platform`` (module docstring) with ``overrides`` merged in (RFC 7396)."""
    if platform not in PLATFORM_PARTS:
        raise KeyError(f"no base environment for platform {platform!r}: add its endpoints and section to PLATFORM_PARTS in {__name__}")
    endpoints, section = PLATFORM_PARTS[platform]
    env: Environment = {"platform": platform, **base_shape(), "endpoints": copy.deepcopy(endpoints)}
    if section is not None:
        env[section[0]] = copy.deepcopy(section[1])
    return merge(env, overrides)


def from_stack(name: str, /, **overrides: Any) -> Environment:
    """The project's config of ``stacks/Pulumi.<name>.yaml`` (project defaults applied) with ``overrides`` merged in."""
    from tests.helpers import example_args  # here, not at the top: tests.helpers imports Pulumi, this module does not

    return merge(example_args(name), overrides)


# --- edits by stable key -------------------------------------------------------------------------------------


def cluster(env: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The cluster named ``name`` in ``env`` (the dict itself, not a copy)."""
    for c in env["clusters"]:
        if c["name"] == name:
            return c
    raise KeyError(f"no cluster {name!r}; the environment has {', '.join(c['name'] for c in env['clusters'])}")


def worker_group(env: Mapping[str, Any], cluster_name: str, name: str) -> dict[str, Any]:
    """The worker group ``name`` of cluster ``cluster_name`` (the dict itself, not a copy)."""
    for g in cluster(env, cluster_name).get("workerGroups", []):
        if g["name"] == name:
            return g
    raise KeyError(f"cluster {cluster_name!r} has no worker group {name!r}")


def edit_cluster(env: Mapping[str, Any], name: str, /, **patch: Any) -> Environment:
    """``env`` with ``patch`` merged into the cluster ``name`` (same rules as the overrides)."""
    cluster(env, name)  # an unknown name is an error, not a silent no-op
    out = merge(env, {})
    out["clusters"] = [merge(c, patch) if c["name"] == name else c for c in out["clusters"]]
    return out


def add_cluster(env: Mapping[str, Any], new: Mapping[str, Any]) -> Environment:
    """``env`` with the cluster ``new`` appended."""
    out = merge(env, {})
    out["clusters"] = [*out["clusters"], merge({}, new)]
    return out


def remove_cluster(env: Mapping[str, Any], name: str) -> Environment:
    """``env`` without the cluster ``name``."""
    cluster(env, name)
    out = merge(env, {})
    out["clusters"] = [c for c in out["clusters"] if c["name"] != name]
    return out


def add_worker_group(env: Mapping[str, Any], cluster_name: str, group: Mapping[str, Any]) -> Environment:
    """``env`` with ``group`` appended to the worker groups of ``cluster_name``."""
    groups = [*cluster(env, cluster_name).get("workerGroups", []), dict(group)]
    return edit_cluster(env, cluster_name, workerGroups=groups)


def edit_worker_group(env: Mapping[str, Any], cluster_name: str, name: str, /, **patch: Any) -> Environment:
    """``env`` with ``patch`` merged into the worker group ``name`` of ``cluster_name``."""
    worker_group(env, cluster_name, name)
    groups = [merge(g, patch) if g["name"] == name else g for g in cluster(env, cluster_name)["workerGroups"]]
    return edit_cluster(env, cluster_name, workerGroups=groups)


def role_addresses(env: Mapping[str, Any], cluster_name: str, role: str) -> list[str]:
    """The addresses ``env`` writes for ``role`` of a cluster (``control-plane``, ``etcd``, ``worker``,
    ``control-plane-vip``), as written: for deriving an expected value from the environment under test."""
    c = cluster(env, cluster_name)
    if role == "control-plane-vip":
        return [c["controlPlane"]["endpoint"]]
    if role == "control-plane":
        return list(c["controlPlane"]["addresses"])
    if role == "etcd":
        return list(c.get("etcd", {}).get("addresses", []))
    if role == "worker":
        return [a for g in c.get("workerGroups", []) for a in g["addresses"]]
    raise KeyError(role)


# --- the strategy ----------------------------------------------------------------------------------------------

PLATFORMS: tuple[str, ...] = platform_names()
CLUSTER_NAMES = ("mgmt", "dev", "prod", "qa", "edge")  # none a prefix of another (vSphere's vmName membership)
EKSA_VERSIONS = ("v0.21", "v0.22", "v0.24", "v0.25", "latest")
IPV6_MODES = ("none", "peers", "dual-stack", "mixed")
V4_CLIENTS = ("10.20.0.0/16", "10.21.0.0/16", "10.22.0.0/24", "192.0.2.0/24")
V6_CLIENTS = ("fd10::/64", "2001:db8:1::/48")
ADMIN_V6 = "fd00:ff::5"


# Add-ons (components/catalog.py ADDONS) and the BGP routers some of them need: drawn per cluster.
ROUTERS = ("10.50.0.1", "10.50.0.2", "fd00:50::1")


@st.composite
def environments(draw: st.DrawFn, platform: str | None = None, *, aws_mode: str | None = None) -> Environment:
    """A random valid environment of ``platform`` (any platform when None).

    Shared by every platform: 1-3 clusters (the first manages some of the others), 0-3 worker groups, stacked or
    external etcd and custom etcd ports, the API server on 443, an API load balancer (443 or 6443), subnets or
    single machines as addresses, IPv6 (none; only among the client peers; dual-stack nodes; or some roles on IPv6
    only), client lists that are empty, list the admin machine or cover it, Jenkins, Cilium on or off, the EKS-A
    version, the cluster's add-ons (with BGP routers where needed) and pod/service ranges. Then the platform's own part: Snow devices (one possibly on IPv6), the ``aws`` mode (``aws_mode``:
    snow or region; drawn when None), group selection and placement; vSphere membership, appliedTo and category;
    Nutanix Prism Central's port, state, category key and name prefix; bare-metal BMCs, table and default action.
    """
    if platform is None:
        platform = draw(st.sampled_from(PLATFORMS))
    if platform not in PLATFORM_PARTS:
        raise KeyError(f"no strategy for platform {platform!r}: add it to {__name__}.environments")
    # distinct subnets, in an order drawn with one choice (a stride through the pool; 37 is prime to both sizes)
    start = draw(st.integers(0, 63))
    subnets = iter(f"10.{40 + n // 8}.{n % 8}.0" for n in ((start + 37 * k) % 64 for k in range(64)))
    subnets6 = iter(f"fd00:{1 + n // 8}:{n % 8}::" for n in ((start + 37 * k) % 32 for k in range(32)))
    ipv6 = draw(st.sampled_from(IPV6_MODES))

    def v4() -> list[str]:
        base = next(subnets)
        shape = draw(st.sampled_from(["/24", "/28", "machines"]))
        if shape == "machines":
            return [base.removesuffix(".0") + f".{h}" for h in range(11, 11 + draw(st.integers(1, 3)))]
        return [base + shape]

    def addresses() -> list[str]:
        if ipv6 == "mixed" and draw(st.booleans()) and draw(st.booleans()):
            return [next(subnets6) + "/64"]  # this role on IPv6 only
        nets = v4()
        if ipv6 in ("dual-stack", "mixed") and draw(st.booleans()):
            nets.append(next(subnets6) + "/64")
        return nets

    admin = [ADMIN_MACHINE, *([ADMIN_V6] if ipv6 in ("dual-stack", "mixed") else [])]
    v6_peers = V6_CLIENTS if ipv6 != "none" else ()

    def client_list() -> list[str]:
        out = draw(st.lists(st.sampled_from([*V4_CLIENTS, *v6_peers]), unique=True, max_size=2))
        admin_is = draw(st.sampled_from(["absent", "listed", "covered"]))
        if admin_is == "listed":
            out.append(ADMIN_MACHINE + "/32")
        elif admin_is == "covered":
            out.append("10.10.0.0/24")
        return sorted(out)

    n = draw(st.integers(1, 3))
    names = draw(st.lists(st.sampled_from(CLUSTER_NAMES), min_size=n, max_size=n, unique=True))
    cilium = draw(st.booleans())
    clusters: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        cp: dict[str, Any] = {"endpoint": f"10.99.{i}.10", "addresses": addresses()}
        if draw(st.booleans()):
            cp["apiServerPort"] = 443
        if draw(st.booleans()):
            cp["loadBalancer"] = {"address": f"10.98.{i}.1", "port": draw(st.sampled_from([443, 6443]))}
        c: dict[str, Any] = {"name": name, "controlPlane": cp}
        if i > 0 and draw(st.booleans()):
            c["managedBy"] = names[0]
        etcd: dict[str, Any] = {}
        if draw(st.booleans()):
            etcd = {"external": True, "addresses": addresses()}
        if draw(st.booleans()):
            etcd.update(clientPort=12379, peerPort=12380)
        if etcd:
            c["etcd"] = etcd
        groups = draw(st.integers(0, 3))
        if groups:
            c["workerGroups"] = [{"name": f"md-{g}", "addresses": addresses()} for g in range(groups)]
        addons = [a for a in draw(st.lists(st.sampled_from(ADDONS), unique=True, max_size=3)) if cilium or a != "hubble-relay"]
        if addons:  # hubble-relay is part of Cilium: refused without it
            c["addons"] = addons
        if {"metallb-bgp", "kube-vip-bgp"} & set(addons):
            c["routers"] = draw(st.lists(st.sampled_from(ROUTERS), min_size=1, unique=True))
        if draw(st.booleans()):
            c["clusterNetwork"] = {"pods": draw(st.sampled_from(["172.16.0.0/16", "fd00:aa::/56"])), "services": "172.20.0.0/16"}
        clusters.append(c)

    env: Environment = {
        "platform": platform,
        "cilium": cilium,
        "adminMachine": {"addresses": admin},
        "clients": {"api": client_list(), "ssh": client_list(), "nodePort": client_list()},
        "clusters": clusters,
    }
    if draw(st.booleans()):
        env["eksaVersion"] = draw(st.sampled_from(EKSA_VERSIONS))
    jenkins = draw(st.booleans())
    if jenkins:
        env["managementTools"] = {"jenkins": {"address": "10.30.0.10", "clients": client_list() or ["10.20.0.0/16"]}}

    if platform == "snow":
        devices = [{"name": f"dev-{d}", "address": f"10.0.0.{31 + d}"} for d in range(draw(st.integers(1, 3)))]
        if draw(st.booleans()) and draw(st.booleans()):
            devices[0]["address"] = "fd00:240::1"
        env["endpoints"] = {"snowDevices": devices}
        nodes = draw(st.booleans()) or draw(st.booleans())
        admin_group = draw(st.booleans())
        jenkins_group = jenkins and draw(st.booleans())
        groups = {"nodes": nodes or not (admin_group or jenkins_group), "adminMachine": admin_group, "jenkins": jenkins_group}
        mode = aws_mode or draw(st.sampled_from(["snow", "region"]))
        if mode == "snow":
            aws: dict[str, Any] = {"mode": "snow", "insecure": True, "groups": groups}
            placement = {}
            for c in clusters:
                if draw(st.booleans()):
                    placement[c["name"]] = draw(st.lists(st.sampled_from([d["name"] for d in devices]), min_size=1, unique=True))
            if placement:
                aws["placement"] = placement
        else:
            aws = {**{k: v for k, v in AWS_REGION.items() if v is not None}, "groups": groups}
        env["aws"] = aws
    elif platform == "vsphere":
        env["endpoints"] = {"vcenter": "10.0.0.10"}
        membership = draw(
            st.sampled_from(["ipset", "tag", {"control-plane": "ipset", "etcd": "vmName", "worker": "vmName"}, {"worker": "tag"}])
        )
        env["vsphere"] = {
            "nsx": {
                "host": "nsx.example.com",
                "username": "admin",
                "membership": membership,
                "appliedTo": draw(st.sampled_from(["groups", "dfw"])),
                "category": draw(st.sampled_from(["Application", "Environment", "Infrastructure"])),
            }
        }
    elif platform == "nutanix":
        env["endpoints"] = {"prismCentral": "10.0.0.20", "prismCentralPort": draw(st.sampled_from([9440, 9441]))}
        section: dict[str, Any] = {}
        if draw(st.booleans()):
            section["state"] = draw(st.sampled_from(["MONITOR", "ENFORCE"]))
        if draw(st.booleans()):
            section["categoryKey"] = "Tier"
        if draw(st.booleans()):
            section["namePrefix"] = "fw-"
        if section:
            env["nutanix"] = section
    elif platform == "baremetal":
        bmcs = [{"name": f"m{b}", "address": f"10.0.1.{b + 1}"} for b in range(draw(st.integers(0, 2)))]
        env["endpoints"] = {"tinkerbellIp": "10.0.0.40", **({"bmcs": bmcs} if bmcs else {})}
        section = {}
        if draw(st.booleans()):
            section["defaultAction"] = draw(st.sampled_from(["drop", "reject"]))
        if draw(st.booleans()):
            section["table"] = "fw"
        if section:
            env["baremetal"] = section
    return env
