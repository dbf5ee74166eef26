"""Generated stacks: an example stack's config with its clusters replicated to N clusters.

Rules (the same for every platform, so sizes compare):
- the example's clusters are copied in order, as many times as needed, and cut at N; copy ``k`` renames
  each cluster ``<name>`` to ``<name>`` (k = 0) or ``<name><k>`` and keeps ``managedBy`` inside the copy.
  An example with a single (self-managed) cluster grows the other way: copies 1.. are workload clusters
  managed by the first one (one management cluster, N - 1 workload clusters: how bare metal is run);
- every address of cluster number ``j`` (endpoint, role addresses, load balancer) moves into its own /20,
  the ``j``-th of 10.128.0.0/9 (cluster 0 in 10.128.0.0/20, cluster 16 in 10.129.0.0/20), keeping its low 12
  bits: ranges are distinct, valid and never overlap each other or the example's peers (clients, admin
  machine, endpoints, which all live outside 10.128.0.0/9);
- platform settings stay valid: bare metal hardwareSelectors become the addresses they select (the
  hardware CSV stays, for the BMCs); Nutanix ``clusterStates`` follow the renamed clusters (category values
  are ``<cluster>-<role>``, unique by construction); Snow gets more devices only when the example's two
  would hold more than 50 groups each, each copy placed on a pair of devices; regional AWS creates the
  node groups in the VPC (``groups.nodes: true``) and no admin-machine/Jenkins group, whose egress
  rules towards every cluster would exceed 60 rules per group beyond a few clusters (see ``quota_limit``).
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.topology import Cluster, parse_topology
from tests.bench.budget import TIMED_SIZES
from tests.helpers import PROJECT_DIR, example_args

GROUPS_PER_DEVICE = 50
BLOCKS = ipaddress.IPv4Network("10.128.0.0/9")  # cluster j lives in the j-th /20 of it
BLOCK_PREFIX = 20
MAX_CLUSTERS = 2 ** (BLOCK_PREFIX - BLOCKS.prefixlen)


@dataclass(frozen=True)
class Case:
    """One benchmarked platform configuration: an example stack and how to grow it."""

    name: str
    stack: str  # the example stack in stacks/
    platform: str
    sdk: str  # the provider SDK module the stack must import (and no other)
    generated_settings: Mapping[str, Any] = field(default_factory=dict)  # merged into the platform section when growing
    timed: tuple[int, ...] = TIMED_SIZES  # the cluster counts whose plan time is measured


CASES: tuple[Case, ...] = (
    Case("snow", "snow-example", "snow", "pulumi_aws"),
    # Region mode registers each rule as a resource: 12,302 resources and 35 s a plan at 200 clusters, three runs of
    # it and of its floor would take four minutes. The AWS platform's growth to 200 clusters is the snow case's.
    Case(
        "aws-region",
        "aws-region-example",
        "snow",
        "pulumi_aws",
        {"groups": {"nodes": True, "adminMachine": False, "jenkins": False}},
        timed=(10, 50),
    ),
    Case("vsphere", "vsphere-example", "vsphere", "pulumi_vsphere"),
    Case("nutanix", "nutanix-example", "nutanix", "pulumi_nutanix"),
    Case("baremetal", "baremetal-example", "baremetal", "pulumi_command"),
)
SDKS = ("pulumi_aws", "pulumi_vsphere", "pulumi_nutanix", "pulumi_command")
SECTIONS = {"snow": "aws", "vsphere": "vsphere", "nutanix": "nutanix", "baremetal": "baremetal"}


def case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def _read(path: str) -> str:
    p = PROJECT_DIR / path
    return p.read_text(encoding="utf-8")


def _move(value: str, j: int) -> str:
    """An address or CIDR into cluster ``j``'s /20 (the ``j``-th of 10.128.0.0/9), keeping its low 12 bits."""
    net = ipaddress.ip_network(value, strict=False)
    if net.version != 4 or net.prefixlen < BLOCK_PREFIX:
        raise ValueError(f"cannot move {value!r}: the generator handles IPv4 networks of /{BLOCK_PREFIX} or smaller")
    size = 2 ** (32 - BLOCK_PREFIX)
    low = int(net.network_address) % size
    moved = ipaddress.IPv4Network((int(BLOCKS.network_address) + j * size + low, net.prefixlen))
    return str(moved.network_address) if "/" not in value else str(moved)


def _roles(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    etcd = cluster.get("etcd")
    return [cluster["controlPlane"], *([etcd] if isinstance(etcd, dict) else []), *(cluster.get("workerGroups") or [])]


def _addresses(cluster: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for cfg in _roles(cluster):
        out += [*cfg.get("addresses", ()), *([cfg["endpoint"]] if "endpoint" in cfg else [])]
        lb = cfg.get("loadBalancer")
        if isinstance(lb, dict) and "address" in lb:
            out.append(lb["address"])
    return out


def _move_role(cfg: dict[str, Any], j: int) -> None:
    if "addresses" in cfg:
        cfg["addresses"] = [_move(a, j) for a in cfg["addresses"]]
    if "endpoint" in cfg:
        cfg["endpoint"] = _move(cfg["endpoint"], j)
    lb = cfg.get("loadBalancer")
    if isinstance(lb, dict) and "address" in lb:
        lb["address"] = _move(lb["address"], j)


def _resolve_selectors(args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The example's clusters with every hardwareSelector replaced by the addresses it selects."""
    if not any("hardwareSelector" in str(c) for c in args["clusters"]):
        return copy.deepcopy(list(args["clusters"]))
    topology = parse_topology(args, read_file=_read)
    out: list[dict[str, Any]] = []
    for raw in args["clusters"]:
        c = copy.deepcopy(raw)
        resolved: Cluster = topology.cluster(c["name"])
        cp = c["controlPlane"]
        if cp.pop("hardwareSelector", None) is not None:
            cp["addresses"] = [str(n) for n in resolved.control_plane.addresses]
        etcd = c.get("etcd")
        if isinstance(etcd, dict) and etcd.pop("hardwareSelector", None) is not None and resolved.external_etcd is not None:
            etcd["addresses"] = [str(n) for n in resolved.external_etcd.addresses]
        groups = {g.name: g for g in resolved.worker_groups}
        for g in c.get("workerGroups") or []:
            if g.pop("hardwareSelector", None) is not None:
                g["addresses"] = [str(n) for n in groups[g["name"]].machines.addresses]
        out.append(c)
    return out


def grow_clusters(templates: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` clusters from the example's ``templates`` (see the module docstring)."""
    if not 1 <= n <= MAX_CLUSTERS:
        raise ValueError(f"1 <= n <= {MAX_CLUSTERS}")
    single = len(templates) == 1 and not templates[0].get("managedBy")
    out: list[dict[str, Any]] = []
    k = 0
    while len(out) < n:
        names = {t["name"]: (t["name"] if k == 0 else f"{t['name']}{k}") for t in templates}
        for t in templates:
            if len(out) == n:
                break
            c = copy.deepcopy(t)
            c["name"] = names[t["name"]]
            if single and k > 0:
                c["managedBy"] = t["name"]
            elif c.get("managedBy") in names:
                c["managedBy"] = names[c["managedBy"]]
            before = _addresses(c)
            j = len(out)
            for role in _roles(c):
                _move_role(role, j)
            if len(set(_addresses(c))) != len(set(before)):
                raise ValueError(f"cluster {t['name']}: two of its addresses differ only above their low {32 - BLOCK_PREFIX} bits")
            out.append(c)
        k += 1
    return out


def _copy_of(name: str, templates: list[dict[str, Any]]) -> tuple[str, int]:
    """(template name, copy number) of a generated cluster name."""
    for t in sorted(templates, key=lambda t: -len(t["name"])):
        base = t["name"]
        if name == base:
            return base, 0
        rest = name[len(base) :]
        if name.startswith(base) and rest.isdigit():
            return base, int(rest)
    raise KeyError(name)


def _snow_layout(config: dict[str, Any], clusters: list[dict[str, Any]], templates: list[dict[str, Any]]) -> None:
    """Snow: keep the example's devices while every device holds at most 50 groups; beyond, add devices and
    place each copy of the example's clusters on a pair of devices."""

    def groups_of(c: Mapping[str, Any]) -> int:
        etcd = c.get("etcd")
        return 1 + int(isinstance(etcd, dict) and bool(etcd.get("external"))) + int(bool(c.get("workerGroups")))

    settings = config.setdefault("aws", {})
    if settings.get("mode", "snow") != "snow" or settings.get("placement"):
        return
    devices = list(config["endpoints"]["snowDevices"])
    per_device = sum(groups_of(c) for c in clusters)
    if per_device <= GROUPS_PER_DEVICE:
        return
    per_copy = sum(groups_of(t) for t in templates)
    copies_per_pair = GROUPS_PER_DEVICE // per_copy
    copies = {_copy_of(c["name"], templates)[1] for c in clusters}
    pairs = -(-len(copies) // copies_per_pair)
    while len(devices) < 2 * pairs:
        i = len(devices)
        devices.append({"name": f"snow-{i}", "address": f"10.20.0.{100 + i}"})
    config["endpoints"]["snowDevices"] = devices
    placement: dict[str, list[str]] = {}
    for c in clusters:
        pair = _copy_of(c["name"], templates)[1] // copies_per_pair
        placement[c["name"]] = [devices[2 * pair]["name"], devices[2 * pair + 1]["name"]]
    settings["placement"] = placement


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)


def generated_config(c: Case, n: int, *, settings: Mapping[str, Any] | None = None, layout: bool = True) -> dict[str, Any]:
    """The example stack of ``c`` grown to ``n`` clusters: un-namespaced keys, as ``plan_config`` takes them.

    ``settings`` (default: ``c.generated_settings``) is merged into the platform section; ``layout=False`` keeps
    the example's Snow devices and placement whatever the number of groups (to find where quotas stop it)."""
    args = example_args(c.stack)
    templates = _resolve_selectors(args)
    clusters = grow_clusters(templates, n)
    config = copy.deepcopy(args)
    config["clusters"] = clusters
    section = SECTIONS[c.platform]
    _merge(config.setdefault(section, {}), c.generated_settings if settings is None else settings)
    if c.platform == "nutanix":
        states = config[section].get("clusterStates") or {}
        if states:
            config[section]["clusterStates"] = {
                x["name"]: states[base] for x in clusters if (base := _copy_of(x["name"], templates)[0]) in states
            }
    if c.platform == "snow" and layout:
        _snow_layout(config, clusters, templates)
    return config


def secrets_of(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split the example's secret keys (``[secret]`` placeholders) out of ``config``: (plain, secrets)."""
    from components.platform import all_secret_keys

    plain = {k: v for k, v in config.items() if k not in all_secret_keys()}
    secrets = {k: str(v) for k, v in config.items() if k in all_secret_keys()}
    return plain, secrets
