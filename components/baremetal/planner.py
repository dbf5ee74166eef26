"""Pure: (topology, flows, settings) -> one nftables ruleset spec per host role.

Each flow that ends on a machine with a ruleset (the admin machine, control-plane nodes and the VIPs they
hold, external etcd machines, workers) becomes one accept rule per address family in that machine's input
chain: ``<family> saddr @<source set> <family> daddr @<destination set> <proto> dport <merged ports>``.
Flows that end elsewhere (BMCs, an external API load balancer, Jenkins) need no host rule: the hosts'
output is not filtered and replies are accepted as ``established``. They are in the ACL export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, NamedTuple

from ..catalog import Protocol, format_version
from ..endpoints import (
    ADMIN_MACHINE,
    API_CLIENTS,
    BMC,
    CONTROL_PLANE,
    CONTROL_PLANE_VIP,
    DHCP_CLIENTS,
    ETCD,
    JENKINS,
    JENKINS_CLIENTS,
    NODEPORT_CLIENTS,
    SSH_CLIENTS,
    TINKERBELL_VIP,
    WORKER,
)  # fmt: skip
from ..flows import Flow, FlowSet, endpoint_addresses
from ..ports import PortSet
from ..reader import Network
from ..topology import Cluster, Topology
from .hosts import HostRole, host_roles, tinkerbell_holder
from .settings import BareMetalSettings

# Endpoints whose addresses do not depend on the cluster: their sets are named without it.
GLOBAL_ENDPOINTS = frozenset(
    {ADMIN_MACHINE, API_CLIENTS, SSH_CLIENTS, NODEPORT_CLIENTS, JENKINS, JENKINS_CLIENTS, TINKERBELL_VIP, BMC, DHCP_CLIENTS}
)
# nft limits a rule comment to 128 bytes (NFTNL_UDATA_COMMENT_MAXLEN).
MAX_COMMENT = 128


def address(net: Network) -> str:
    """A network in nft notation: a single address without its prefix length."""
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


@dataclass(frozen=True, kw_only=True, slots=True)
class AddressSet:
    """A named nftables set of one address family."""

    name: str
    version: int  # 4 or 6
    elements: tuple[Network, ...]
    # The elements in nft notation, written once: one set is written into every ruleset that uses it.
    text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", ", ".join([address(n) for n in self.elements]))


class Rule(NamedTuple):
    """One accept rule of a host's input chain."""

    version: int
    source: AddressSet
    destination: AddressSet
    protocol: Protocol
    ports: PortSet  # ICMP: ICMP types as the catalog writes them (IPv4 numbering)
    # A DHCPDISCOVER from 0.0.0.0 is sent to 255.255.255.255: also accept that destination.
    broadcast: bool
    comment: str


class RulesetSpec(NamedTuple):
    """Everything one host role's ruleset says, before it is written as nft text."""

    host: HostRole
    table: str
    default_action: str
    eksa_version: str
    sets: tuple[AddressSet, ...]
    rules: tuple[Rule, ...]

    @property
    def ipv6(self) -> bool:
        return any(n.version == 6 for n in (*self.host.machines, *self.host.vips))


def destination_host(topology: Topology, flow: Flow) -> tuple[str | None, str] | None:
    """(cluster, role) of the machines a flow ends on, or None when no ruleset of ours sees it."""
    return _destination_host(topology, topology.cluster(flow.cluster), flow.destination)


def _destination_host(topology: Topology, cluster: Cluster, dst: str) -> tuple[str | None, str] | None:
    if dst == ADMIN_MACHINE:
        return None, ADMIN_MACHINE
    if dst in (CONTROL_PLANE, CONTROL_PLANE_VIP):
        return cluster.name, CONTROL_PLANE
    if dst == TINKERBELL_VIP:
        return tinkerbell_holder(topology, cluster), CONTROL_PLANE
    if dst in (ETCD, WORKER):
        return cluster.name, cluster.machine_role(dst)
    return None


def set_name(cluster: str, endpoint: str, version: int) -> str:
    base = endpoint if endpoint in GLOBAL_ENDPOINTS else f"{endpoint}_at_{cluster}"
    return f"{base}_v{version}".replace("-", "_")


def _comment(flow: Flow, clusters: tuple[str, ...] = ()) -> str:
    who = ", ".join(clusters) if clusters else flow.cluster
    text = f"{who}: {flow.source} -> {flow.destination} ({', '.join(flow.rows)})"
    if len(text.encode()) > MAX_COMMENT:
        text = text.encode()[: MAX_COMMENT - 3].decode(errors="ignore") + "..."
    return text.replace('"', "'")


def plan_rulesets(topology: Topology, flows: FlowSet, settings: BareMetalSettings) -> tuple[RulesetSpec, ...]:
    hosts = host_roles(topology)
    by_key: dict[tuple[str | None, str], list[Rule]] = {(h.cluster, h.role): [] for h in hosts}
    sets: dict[tuple[str | None, str], dict[str, AddressSet]] = {(h.cluster, h.role): {} for h in hosts}
    address_sets = _AddressSets(topology)
    # The same rule owed by several clusters (every cluster's machines DHCP towards the admin machine) is one rule.
    # Every rule between two sets that no cluster owns: (its ruleset, its index there, the flows asking for it, in order).
    owed: dict[tuple[Any, ...], tuple[tuple[str | None, str], int, list[Flow]]] = {}
    for name, cluster_flows in groupby(flows.flows, key=_cluster_name):  # flows are sorted by cluster
        cluster = topology.cluster(name)
        for flow in cluster_flows:
            where = _destination_host(topology, cluster, flow.destination)
            if where is None:
                continue
            rules = by_key.get(where)
            if rules is None:  # cannot happen for a validated topology; fail loudly rather than drop a flow
                raise AssertionError(f"flow {flow} ends on {where}, which has no ruleset")
            where_sets = sets[where]
            comment = _comment(flow)
            # The IPv4 sets, then the IPv6 ones: a rule for each family both ends have addresses in.
            for src_set, dst_set in zip(address_sets.of(cluster, flow.source), address_sets.of(cluster, flow.destination), strict=True):
                if src_set is None or dst_set is None:
                    continue
                broadcast = flow.source == DHCP_CLIENTS and src_set.version == 4
                for s in (src_set,) if broadcast else (src_set, dst_set):
                    known = where_sets.setdefault(s.name, s)
                    if known is not s and known != s:
                        raise AssertionError(f"two different address sets named {s.name}")
                rule = Rule(src_set.version, src_set, dst_set, flow.protocol, flow.ports, broadcast, comment)
                if not (flow.source in GLOBAL_ENDPOINTS and flow.destination in GLOBAL_ENDPOINTS):
                    rules.append(rule)  # a set of this cluster's is in it: no other cluster's flow asks for this rule
                    continue
                # Sets are keyed by name (checked above to mean one content): hashing address networks is slow.
                same = (where, rule.version, src_set.name, dst_set.name, flow.protocol, flow.ports, broadcast)
                found = owed.get(same)
                if found is not None:
                    found[2].append(flow)
                    continue
                owed[same] = (where, len(rules), [flow])
                rules.append(rule)
    for where, i, asking in owed.values():
        if len(asking) > 1:  # one rule; its comment names the clusters
            by_key[where][i] = by_key[where][i]._replace(comment=_comment(asking[-1], tuple(f.cluster for f in asking)))
    version_text = format_version(topology.eksa_version)
    return tuple(
        RulesetSpec(
            host=h,
            table=settings.table,
            default_action=settings.default_action,
            eksa_version=version_text,
            sets=tuple(sorted(sets[(h.cluster, h.role)].values(), key=_name)),
            rules=tuple(by_key[(h.cluster, h.role)]),
        )
        for h in hosts
    )


def _cluster_name(flow: Flow) -> str:
    return flow.cluster


def _set_key(cluster: str, endpoint: str) -> tuple[str, str]:
    return ("" if endpoint in GLOBAL_ENDPOINTS else cluster, endpoint)


class _AddressSets:
    """The (IPv4, IPv6) address sets of endpoints, each made once, when a rule first needs it: an endpoint that does
    not depend on the cluster has one pair, so every ruleset shares the same AddressSet objects."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.made: dict[tuple[str, str], tuple[AddressSet | None, AddressSet | None]] = {}

    def of(self, cluster: Cluster, endpoint: str) -> tuple[AddressSet | None, AddressSet | None]:
        key = _set_key(cluster.name, endpoint)
        pair = self.made.get(key)
        if pair is None:
            addresses = endpoint_addresses(self.topology, cluster, endpoint)
            pair = (_address_set(cluster.name, endpoint, 4, addresses), _address_set(cluster.name, endpoint, 6, addresses))
            self.made[key] = pair
        return pair


def _address_set(cluster: str, endpoint: str, version: int, addresses: tuple[Network, ...]) -> AddressSet | None:
    elements = tuple(n for n in addresses if n.version == version)
    return AddressSet(name=set_name(cluster, endpoint, version), version=version, elements=elements) if elements else None


def _name(s: AddressSet) -> str:
    return s.name
