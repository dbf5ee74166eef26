"""Object economy: the firewall objects a plan registered versus the fewest that express its flows.

Registered counts are read from the registrations (type tokens and engine inputs), never from a planner.
Minimums are computed from the topology and the flows (``build_flows``), never from a planner's output; the
definitions, per platform, are those of ``DEFINITIONS`` (printed in the report):
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.catalog import load_catalog
from components.flows import NODE_ROLES, Flow, FlowSet, build_flows, endpoint_addresses, row_ports
from components.ports import PortRange, merge
from components.reader import Network
from components.topology import Cluster, Topology, parse_topology
from tests.helpers import PROJECT_DIR

DEFINITIONS: Mapping[str, Sequence[str]] = {
    "snow": (
        "security groups: one per node role with machines of each cluster (control plane, external etcd, workers), "
        "plus the admin-machine and Jenkins groups when `aws.groups` selects them, times the devices that hold it "
        "(snow: `aws.placement`, default every device; region: one)",
        "rule entries (AWS counts every CIDR or group reference of a rule as one entry): for each group and direction, "
        "one entry per (peer CIDR or peer group, protocol, merged port range); ICMP one per type. The accesses are those the "
        "registered rules allow, which `verify` proves equal to the flows; the minimum asks whether fewer entries could "
        "express exactly them (ports of one peer and protocol merged, adjacent ranges too)",
    ),
    "vsphere": (
        "NSX groups: one per node role with machines of each cluster, plus one per distinct address set of the peers "
        "(admin machine, client ranges, VIPs...) that the enforced flows name; the management cluster is its role groups",
        "NSX services: one per distinct (protocol, merged port set) of the enforced flows (flows into nodes and the "
        "control-plane VIP), shared by every cluster",
        "service entries: per service, ceil(port weight / 15) (NSX: 15 ports per entry, a range counts 2); ICMP one per type "
        "(and per family)",
        "security policies: one per cluster; rules: one per (source, destination) endpoint pair of the cluster's enforced "
        "flows, plus the final catch-all rule",
    ),
    "nutanix": (
        "categories and application policies: one per node role with machines of each cluster (the secured group)",
        "policy rules: per policy, the outbound rule, the intra-group rule, and one rule per distinct source of the flows "
        "into that role (Flow takes one source per rule: a category, an IPv4 address group, or an IPv6 subnet)",
        "address groups: per cluster, one per peer (admin machine, client ranges...) whose IPv4 networks the flows into its nodes name",
        "service groups: per cluster, one per distinct (catalog row, protocol, effective ports) of the flows into its nodes",
        "two constraints of the documented design are kept (docs/platforms/nutanix.md): every object carries its cluster "
        "(stacks sharing a Prism Central never collide; removing a cluster removes exactly its objects), and a peer's "
        "ranges live in the peer's own address group (adding a range changes a group, never a rule). What sharing across "
        "clusters would need instead is reported as `shared across clusters` (not a budget)",
    ),
    "baremetal": (
        "rulesets: one per host role (admin machine; per cluster control plane, external etcd, workers)",
        "rules: per ruleset, one per (family, source address set, destination address set, protocol, merged port set) of "
        "the flows ending on that host. Folding two destinations of one host (a node address and a VIP it holds) into one "
        "rule needs a set holding both: one object traded for another, so the count cannot go lower",
        "named sets: per ruleset, one per distinct (family, address set) those rules name (the DHCP broadcast "
        "destination is written inline)",
    ),
}


@dataclass(frozen=True)
class Count:
    kind: str
    registered: int
    minimum: int

    @property
    def ratio(self) -> float:
        return self.registered / self.minimum if self.minimum else (1.0 if not self.registered else math.inf)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "registered": self.registered, "minimum": self.minimum, "ratio": round(self.ratio, 4)}


@dataclass(frozen=True)
class Economy:
    counts: tuple[Count, ...]
    quotas: Mapping[str, Any] = field(default_factory=dict)

    @property
    def registered(self) -> int:
        return sum(c.registered for c in self.counts)

    @property
    def minimum(self) -> int:
        return sum(c.minimum for c in self.counts)

    @property
    def ratio(self) -> float:
        return self.registered / self.minimum if self.minimum else 1.0

    @property
    def worst(self) -> float:
        return max((c.ratio for c in self.counts), default=1.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": [c.to_json() for c in self.counts],
            "registered": self.registered,
            "minimum": self.minimum,
            "ratio": round(self.ratio, 4),
            "worst_ratio": round(self.worst, 4),
            "quotas": dict(self.quotas),
        }


def _read(path: str) -> str:
    return (PROJECT_DIR / path).read_text(encoding="utf-8")


def economy(platform: str, config: Mapping[str, Any], registrations: Sequence[Mapping[str, Any]]) -> Economy:
    """Registered versus minimum for a stack's ``config`` (un-namespaced keys) and its recorded registrations."""
    topology = parse_topology(config, read_file=_read)
    flows = build_flows(topology)
    if platform == "snow":
        return _aws(topology, registrations)
    if platform == "vsphere":
        return _vsphere(topology, flows, registrations)
    if platform == "nutanix":
        return _nutanix(topology, flows, registrations)
    if platform == "baremetal":
        return _baremetal(topology, flows, registrations)
    raise ValueError(platform)


def _of(registrations: Iterable[Mapping[str, Any]], suffix: str) -> list[Mapping[str, Any]]:
    return [r for r in registrations if r["type"].endswith(suffix)]


def _roles(cluster: Cluster) -> tuple[str, ...]:
    return ("control-plane", *(("etcd",) if cluster.external_etcd else ()), *(("worker",) if cluster.worker_groups else ()))


def _entries(ports: Iterable[tuple[int, int]], icmp: bool) -> int:
    """The fewest entries for these (from, to) pieces: merged ranges, or one per ICMP type."""
    pieces = list(ports)
    if icmp:
        return len({lo for lo, _ in pieces})
    return len(merge(PortRange(lo, hi) for lo, hi in pieces))


# --- AWS ---------------------------------------------------------------------------------------------


def _aws(topology: Topology, registrations: Sequence[Mapping[str, Any]]) -> Economy:
    from components.aws.settings import ADMIN_MACHINE, JENKINS, GroupKey, parse_settings

    settings = parse_settings(topology)
    identities: list[GroupKey] = []
    if settings.groups.nodes:
        identities += [GroupKey(c.name, role) for c in topology.clusters for role in _roles(c)]
    if settings.groups.admin_machine and topology.admin_machine:
        identities.append(GroupKey("", ADMIN_MACHINE))
    if settings.groups.jenkins and topology.jenkins is not None:
        identities.append(GroupKey("", JENKINS))
    snow = settings.mode == "snow"
    min_groups = sum(len(settings.devices_for(k)) for k in identities) if snow else len(identities)

    groups = _of(registrations, "ec2/securityGroup:SecurityGroup")
    # (group, direction, peer, protocol) -> [(from, to)]
    pieces: dict[tuple[str, str, str, str], list[tuple[int, int]]] = defaultdict(list)
    registered_entries = 0
    per_group_direction: dict[tuple[str, str, str], int] = defaultdict(int)  # (group, direction, family) -> entries
    if snow:
        for g in groups:
            for direction in ("ingress", "egress"):
                for block in g["inputs"].get(direction) or []:
                    peers = [*(block.get("cidrBlocks") or []), *(block.get("ipv6CidrBlocks") or [])]
                    registered_entries += len(peers)
                    per_group_direction[(g["name"], direction, "all")] += len(peers)
                    for peer in peers:
                        pieces[(g["name"], direction, peer, block["protocol"])].append((block["fromPort"], block["toPort"]))
    else:
        for rule in registrations:
            t = rule["type"]
            if not t.startswith("aws:vpc/securityGroup") or not t.endswith("Rule"):
                continue
            direction = "ingress" if "Ingress" in t else "egress"
            i = rule["inputs"]
            peer = i.get("cidrIpv4") or i.get("cidrIpv6") or i.get("referencedSecurityGroupId") or ""
            registered_entries += 1
            families = ("ipv4", "ipv6") if i.get("referencedSecurityGroupId") else ("ipv6" if i.get("cidrIpv6") else "ipv4",)
            for fam in families:
                per_group_direction[(i["securityGroupId"], direction, fam)] += 1
            pieces[(i["securityGroupId"], direction, peer, i["ipProtocol"])].append((i["fromPort"], i["toPort"]))
    min_entries = sum(_entries(p, proto in ("icmp", "icmpv6")) for (_, _, _, proto), p in pieces.items())
    per_device: dict[str, int] = defaultdict(int)
    for g in groups:
        per_device[g.get("provider") or ""] += 1
    quotas = {
        "max_rule_entries_per_group_and_direction": max(per_group_direction.values(), default=0),
        "rule_entries_limit": 60,
        "max_groups_per_device": max(per_device.values(), default=0) if snow else None,
        "groups_per_device_limit": 50 if snow else None,
    }
    return Economy(
        (Count("security groups", len(groups), min_groups), Count("rule entries", registered_entries, min_entries)),
        quotas,
    )


# --- NSX ---------------------------------------------------------------------------------------------

ENFORCED = ("control-plane", "etcd", "worker", "control-plane-vip")
PER_CLUSTER_PEERS = ("control-plane-vip", "api-load-balancer")


def _weight(ports: Iterable[PortRange]) -> int:
    return sum(1 if r.lo == r.hi else 2 for r in ports)


def _has_v6(topology: Topology) -> bool:
    nets: list[Network] = [*topology.admin_machine, *topology.clients.api, *topology.clients.ssh, *topology.clients.node_port]
    for c in topology.clusters:
        nets += [*c.control_plane.addresses, *c.etcd, *c.workers, c.endpoint]
    return any(n.version == 6 for n in nets)


def _vsphere(topology: Topology, flows: FlowSet, registrations: Sequence[Mapping[str, Any]]) -> Economy:
    enforced = [f for f in flows.flows if f.destination in ENFORCED]
    role_groups = sum(len(_roles(c)) for c in topology.clusters)
    peer_sets: set[frozenset[Network]] = set()
    pairs: set[tuple[str, str, str]] = set()
    services: set[tuple[str, tuple[PortRange, ...]]] = set()
    for f in enforced:
        cluster = topology.cluster(f.cluster)
        pairs.add((f.cluster, f.source, f.destination))
        services.add((f.protocol, f.ports))
        for endpoint in (f.source, f.destination):
            if endpoint in NODE_ROLES or endpoint == "management-cluster":
                continue  # role groups (the manager's, for management-cluster)
            peer_sets.add(frozenset(endpoint_addresses(topology, cluster, endpoint)))
    v6 = _has_v6(topology)
    min_entries = 0
    for protocol, ports in services:
        if protocol == "icmp":
            min_entries += sum(r.size for r in ports) * (2 if v6 else 1)
        else:
            min_entries += math.ceil(_weight(ports) / 15)
    clusters = len(topology.clusters)

    policies = _of(registrations, "dynamic/nsx:SecurityPolicy")
    svc = _of(registrations, "dynamic/nsx:Service")
    entries = [e for s in svc for e in s["inputs"]["body"]["service_entries"]]
    max_weight = max((_weight_text(e.get("destination_ports") or []) for e in entries), default=0)
    return Economy(
        (
            Count("NSX groups", len(_of(registrations, "dynamic/nsx:Group")), role_groups + len(peer_sets)),
            Count("NSX services", len(svc), len(services)),
            Count("service entries", len(entries), min_entries),
            Count("security policies", len(policies), clusters),
            Count("policy rules", sum(len(p["inputs"]["body"]["rules"]) for p in policies), len(pairs) + clusters),
            Count("vCenter tags", len(_of(registrations, "index/tag:Tag")), role_groups if _of(registrations, "index/tag:Tag") else 0),
        ),
        {"max_port_weight_per_service_entry": max_weight, "port_weight_limit": 15},
    )


def _weight_text(ports: Iterable[str]) -> int:
    return sum(2 if "-" in p else 1 for p in ports)


# --- Nutanix -----------------------------------------------------------------------------------------


def _nutanix(topology: Topology, flows: FlowSet, registrations: Sequence[Mapping[str, Any]]) -> Economy:
    catalog = load_catalog()
    secured = [(c, role) for c in topology.clusters for role in _roles(c)]
    sources: dict[tuple[str, str], set[tuple[str, Any]]] = defaultdict(set)
    address_groups: set[tuple[str, str]] = set()  # (cluster, peer)
    address_sets: set[frozenset[Network]] = set()  # shared across clusters: one per distinct set
    services: set[tuple[str, str, str, tuple[PortRange, ...]]] = set()  # (cluster, row, protocol, ports)
    for f in flows.flows:
        if f.destination not in NODE_ROLES:
            continue
        cluster = topology.cluster(f.cluster)
        for row in f.rows:
            services.add((f.cluster, row, f.protocol, row_ports(catalog[row], topology, cluster)))
        target = sources[(f.cluster, f.destination)]
        if f.source == f.destination:
            continue  # the intra-group rule
        if f.source in NODE_ROLES:
            target.add(("category", (f.cluster, f.source)))
        elif f.source == "management-cluster":
            assert cluster.managed_by is not None
            manager = topology.cluster(cluster.managed_by)
            target.update(("category", (manager.name, r)) for r in _roles(manager) if r != "etcd")
        else:
            families = {n.version for n in endpoint_addresses(topology, cluster, f.destination)}
            nets = endpoint_addresses(topology, cluster, f.source)
            v4 = frozenset(n for n in nets if n.version == 4)
            if v4 and 4 in families:
                address_groups.add((f.cluster, f.source))
                address_sets.add(v4)
                target.add(("addresses", f.source))
            if 6 in families:
                target.update(("subnet", n) for n in nets if n.version == 6)
    min_rules = sum(2 + len(sources[(c.name, role)]) for c, role in secured)
    policies = _of(registrations, "networkSecurityPolicyV2:NetworkSecurityPolicyV2")
    return Economy(
        (
            Count("categories", len(_of(registrations, "categoryV2:CategoryV2")), len(secured)),
            Count("security policies", len(policies), len(secured)),
            Count("policy rules", sum(len(p["inputs"].get("rules") or []) for p in policies), min_rules),
            Count("address groups", len(_of(registrations, "addressGroupsV2:AddressGroupsV2")), len(address_groups)),
            Count("service groups", len(_of(registrations, "serviceGroupsV2:ServiceGroupsV2")), len(services)),
        ),
        {
            "max_rules_per_policy": max((len(p["inputs"].get("rules") or []) for p in policies), default=0),
            "shared across clusters": {
                "address groups": len(address_sets),
                "service groups": len({(row, proto, ports) for _, row, proto, ports in services}),
            },
        },
    )


# --- nftables ----------------------------------------------------------------------------------------

_SET = re.compile(r"^\tset \S+ \{$", re.MULTILINE)
_RULE = re.compile(r"^\t\t.* accept comment \".*\"$", re.MULTILINE)


def _host(topology: Topology, f: Flow) -> tuple[str | None, str] | None:
    """Which host role's ruleset a flow ends on (computed here from the topology, not from the planner)."""
    cluster = topology.cluster(f.cluster)
    if f.destination == "admin-machine":
        return None, "admin-machine"
    if f.destination in ("control-plane", "control-plane-vip"):
        return cluster.name, "control-plane"
    if f.destination == "tinkerbell-vip":
        return cluster.managed_by or cluster.name, "control-plane"
    if f.destination in ("etcd", "worker"):
        return cluster.name, f.destination
    return None


def _baremetal(topology: Topology, flows: FlowSet, registrations: Sequence[Mapping[str, Any]]) -> Economy:
    hosts = (1 if topology.admin_machine else 0) + sum(len(_roles(c)) for c in topology.clusters)
    rules: dict[Any, set[Any]] = defaultdict(set)
    sets: dict[Any, set[Any]] = defaultdict(set)
    for f in flows.flows:
        host = _host(topology, f)
        if host is None:
            continue
        cluster = topology.cluster(f.cluster)
        for version in (4, 6):
            src = frozenset(n for n in endpoint_addresses(topology, cluster, f.source) if n.version == version)
            dst = frozenset(n for n in endpoint_addresses(topology, cluster, f.destination) if n.version == version)
            if not src or not dst:
                continue
            rules[host].add((version, src, dst, f.protocol, f.ports))
            sets[host].add((version, src))
            broadcast = version == 4 and src == frozenset({ipaddress.IPv4Network("0.0.0.0/32")})
            if not broadcast:
                sets[host].add((version, dst))
    rulesets = _of(registrations, ":NftablesRuleset")
    texts = [r["inputs"]["ruleset"] for r in rulesets]
    return Economy(
        (
            Count("rulesets", len(rulesets), hosts),
            Count("rules", sum(len(_RULE.findall(t)) for t in texts), sum(len(v) for v in rules.values())),
            Count("named sets", sum(len(_SET.findall(t)) for t in texts), sum(len(v) for v in sets.values())),
        ),
    )
