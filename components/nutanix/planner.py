"""Flows -> Flow Network Security objects, as plain frozen specs (no Pulumi, no provider SDK).

What gets planned, for each cluster:
- one category per node role (``RoleCategory``): EKS-A puts it on the role's VMs (additionalCategories);
- one APPLICATION policy per role (``PolicySpec``) whose secured group is that category. A policy per role
  keeps every role's rule list short and independent: a change to the workers' sources never moves a rule
  of the control plane's policy (the provider compares rules by list position, issue #1052).

Rules of a role's policy, each with exactly ONE source (the provider reads only index 0 of ``specs``,
``application_rule_specs`` and ``src_subnets``), in this order:
  1. outbound: ``dest_allow_spec: ALL``, all protocols (outbound stays open, explicitly);
  2. intra-group: the flows from the role to itself, as services (``DENY`` when there are none);
  3. inbound from the cluster's other roles (category), control-plane, etcd, worker order;
  4. inbound from the managing cluster's roles (category), control-plane then worker;
  5. inbound from external peers (one IPv4 address group each), in ``PEER_ORDER``;
  6. inbound from IPv6 networks of peers (one ``src_subnets`` entry each), sorted by network.
The order comes from stable keys only (cluster, role, peer, network: ``Source.sort_key``), never from a
description. Adding an address to a peer that already has one changes the peer's address group, not a rule;
client ranges (``clients.*``) come last so that a peer's first range appends its rule at the end.

Services are service groups, one per catalog row and its effective ports, named after the row, so the
Flow UI shows *why* a port is open.

Every object is named and keyed by its cluster (``<prefix><cluster>-...``): EKS-A cluster names are unique in
a Prism Central, so two stacks sharing one Prism Central cannot collide, and removing a cluster from the stack
removes exactly its objects.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ..addresses import Network
from ..catalog import Catalog, Protocol, load_catalog
from ..endpoints import (
    ADMIN_MACHINE,
    API_CLIENTS,
    API_LOAD_BALANCER,
    JENKINS,
    MANAGEMENT_CLUSTER,
    NODE_ROLES,
    NODEPORT_CLIENTS,
    SSH_CLIENTS,
    Role,
)
from ..flows import Flow, FlowSet, endpoint_addresses, row_ports
from ..ports import PortSet, format_ports, merge
from ..topology import Cluster, Topology
from .settings import NutanixSettings, RoleCategory

# Peers that become address groups, in rule order: the ones every environment has first, client ranges last.
PEER_ORDER = (ADMIN_MACHINE, API_LOAD_BALANCER, JENKINS, API_CLIENTS, SSH_CLIENTS, NODEPORT_CLIENTS)

RuleKind = Literal["outbound", "intra", "inbound"]
SourceKind = Literal["category", "address-group", "subnet"]
# Where a rule goes: (tier, rank in the tier, key). Built from stable keys only (cluster, role, peer, network),
# never from display text. Tiers, in order: outbound, intra-group, the cluster's other roles, the managing
# cluster's roles, peers' address groups, IPv6 networks.
SortKey = tuple[int, int, str]
OUTBOUND_TIER, INTRA_TIER, ROLE_TIER, MANAGER_TIER, PEER_TIER, SUBNET_TIER = range(6)


@dataclass(frozen=True, kw_only=True, slots=True)
class Source:
    """The one source of an inbound rule (made by ``role_source``, ``peer_source`` or ``subnet_source``)."""

    kind: SourceKind
    ref: str  # category: "<cluster>/<role>"; address-group: its key; subnet: the network
    label: str  # for descriptions only: the endpoint it stands for
    sort_key: SortKey  # where its rule goes, from the stable keys above

    @property
    def network(self) -> Network:
        assert self.kind == "subnet"
        return ipaddress.ip_network(self.ref)


@dataclass(frozen=True, kw_only=True, slots=True)
class ServiceGroupSpec:
    key: str  # stable: "<cluster>/<row id>/<protocol>/<ports>"
    name: str
    description: str
    row: str  # catalog row id (or "a+b" for a flow-level group)
    purpose: str
    protocol: Protocol
    ports: PortSet  # ICMP: the ICMP types (code 0)

    @property
    def label(self) -> str:
        return f"{self.row} ({self.purpose}, {self.protocol} {format_ports(self.ports)})"


@dataclass(frozen=True, kw_only=True, slots=True)
class AddressGroupSpec:
    key: str  # stable: "<cluster>/<peer>"
    name: str
    description: str
    networks: tuple[ipaddress.IPv4Network, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleSpec:
    kind: RuleKind
    description: str
    source: Source | None = None  # inbound only
    services: tuple[str, ...] = ()  # service group keys (intra, inbound); empty intra = DENY

    @property
    def sort_key(self) -> SortKey:
        if self.kind == "outbound":
            return (OUTBOUND_TIER, 0, "")
        if self.kind == "intra":
            return (INTRA_TIER, 0, "")
        assert self.source is not None
        return self.source.sort_key


@dataclass(frozen=True, kw_only=True, slots=True)
class PolicySpec:
    cluster: str
    role: str
    name: str
    description: str
    state: str
    scope: str
    vpc_references: tuple[str, ...]
    hitlog: bool
    category: RoleCategory  # the secured group
    rules: tuple[RuleSpec, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class NutanixPlan:
    categories: tuple[RoleCategory, ...]
    address_groups: tuple[AddressGroupSpec, ...]
    service_groups: tuple[ServiceGroupSpec, ...]
    policies: tuple[PolicySpec, ...]

    def category(self, ref: str) -> RoleCategory:
        cluster, _, role = ref.partition("/")
        return next(c for c in self.categories if c.cluster == cluster and c.role == role)


def category_ref(cluster: str, role: str) -> str:
    return f"{cluster}/{role}"


def enforced(flows: Iterable[Flow]) -> tuple[Flow, ...]:
    """Flow secures VMs: the flows into the nodes are what its policies decide (see interpret.py)."""
    return tuple(f for f in flows if f.destination in NODE_ROLES)


def plan(topology: Topology, flows: FlowSet, settings: NutanixSettings, catalog: Catalog | None = None) -> NutanixPlan:
    """Every Flow object of the stack: a policy per cluster role, and the address and service groups its rules name."""
    catalog = catalog or load_catalog()
    prefix = settings.name_prefix
    flows_into: dict[tuple[str, str], list[Flow]] = defaultdict(list)
    for f in enforced(flows.flows):
        flows_into[(f.cluster, f.destination)].append(f)
    service_groups: dict[str, ServiceGroupSpec] = {}
    address_groups: dict[str, AddressGroupSpec] = {}
    policies: list[PolicySpec] = []
    for cluster in topology.clusters:
        for role in cluster.roles:
            services_by_source: dict[Source | None, set[str]] = defaultdict(set)
            for f in flows_into[(cluster.name, role)]:
                services = _service_groups(f, topology, cluster, catalog, prefix)
                for service in services:
                    service_groups.setdefault(service.key, service)
                for source in _sources(f, topology, cluster, role):
                    services_by_source[source].update(service.key for service in services)
                    if source is not None and source.kind == "address-group" and source.ref not in address_groups:
                        address_groups[source.ref] = _address_group(topology, cluster, f.source, prefix)
            policies.append(_policy(cluster, role, services_by_source, service_groups, settings))
    return NutanixPlan(
        categories=settings.categories,
        address_groups=tuple(sorted(address_groups.values(), key=lambda a: a.key)),
        service_groups=tuple(sorted(service_groups.values(), key=lambda s: s.key)),
        policies=tuple(policies),
    )


def _policy(
    cluster: Cluster,
    role: Role,
    services_by_source: Mapping[Source | None, set[str]],
    service_groups: Mapping[str, ServiceGroupSpec],
    settings: NutanixSettings,
) -> PolicySpec:
    """The policy of ``cluster``'s ``role``: its rules in ``sort_key`` order (see the module's docstring)."""
    category = settings.category(cluster.name, role)
    assert category is not None, f"no category for {cluster.name}/{role}"
    intra = tuple(sorted(services_by_source.get(None, set())))
    rules = [
        RuleSpec(kind="outbound", description="Outbound: left open (eksa-firewall manages inbound traffic only)"),
        RuleSpec(
            kind="intra",
            description=f"Within {cluster.name} {role}: " + (_purposes(intra, service_groups) if intra else "nothing"),
            services=intra,
        ),
    ]
    inbound = sorted((source for source in services_by_source if source is not None), key=lambda s: s.sort_key)
    for source in inbound:
        keys = tuple(sorted(services_by_source[source]))
        rules.append(
            RuleSpec(kind="inbound", description=f"From {source.label}: {_purposes(keys, service_groups)}", source=source, services=keys)
        )
    return PolicySpec(
        cluster=cluster.name,
        role=role,
        name=f"{settings.name_prefix}{cluster.name}-{role}",
        description=(
            f"EKS Anywhere cluster {cluster.name}: traffic into its {role} machines "
            f"(category {category.key}={category.value}). Managed by eksa-firewall; edit the stack, not this policy."
        ),
        state=settings.state_of(cluster.name),
        scope=settings.scope,
        vpc_references=settings.vpc_references,
        hitlog=settings.hitlog,
        category=category,
        rules=tuple(rules),
    )


# --- sources -----------------------------------------------------------------------------------------------


def _sources(f: Flow, topology: Topology, cluster: Cluster, role: Role) -> list[Source | None]:
    """The rule sources (``None``: the role itself, an intra-group rule) that stand for ``f.source``."""
    if f.source == role:
        return [None]
    if f.source in NODE_ROLES:
        return [role_source(cluster, f.source, f"{cluster.name} {f.source}", ROLE_TIER)]
    if f.source == MANAGEMENT_CLUSTER:
        assert cluster.managed_by is not None
        manager = topology.cluster(cluster.managed_by)
        return [role_source(manager, r, f"managing cluster {manager.name} {r}", MANAGER_TIER) for r in manager.kubernetes_roles]
    # An external peer: IPv4 networks in one address group; IPv6 networks one rule each (address groups hold
    # IPv4 only). Only the families the role's machines have: the others could never match.
    families = {n.version for n in cluster.addresses_of(role)}
    networks = endpoint_addresses(topology, cluster, f.source)
    out: list[Source | None] = []
    if _ipv4(networks) and 4 in families:
        out.append(peer_source(address_group_key(cluster.name, f.source), f.source))
    if 6 in families:
        # Keyed by the network alone: one rule per network even when several peers list it.
        out.extend(subnet_source(n) for n in networks if n.version == 6)
    return out


def address_group_key(cluster: str, peer: str) -> str:
    return f"{cluster}/{peer}"


def _address_group(topology: Topology, cluster: Cluster, peer: str, prefix: str) -> AddressGroupSpec:
    """The IPv4 networks of ``peer`` (Flow address groups hold IPv4 only)."""
    return AddressGroupSpec(
        key=address_group_key(cluster.name, peer),
        name=f"{prefix}{cluster.name}-{peer}",
        description=f"EKS Anywhere cluster {cluster.name}: {peer} (eksa-firewall)",
        networks=_ipv4(endpoint_addresses(topology, cluster, peer)),
    )


def _ipv4(networks: Iterable[Network]) -> tuple[ipaddress.IPv4Network, ...]:
    return tuple(n for n in networks if isinstance(n, ipaddress.IPv4Network))


def role_source(cluster: Cluster, role: Role, label: str, tier: int) -> Source:
    """The category of ``cluster``'s ``role``: ranked by role (control-plane, etcd, worker), then cluster."""
    return Source(kind="category", ref=category_ref(cluster.name, role), label=label, sort_key=(tier, NODE_ROLES.index(role), cluster.name))


def peer_source(key: str, peer: str) -> Source:
    """The address group ``key`` of ``peer``: ranked by ``PEER_ORDER`` (other peers after it), then key."""
    rank = PEER_ORDER.index(peer) if peer in PEER_ORDER else len(PEER_ORDER)
    return Source(kind="address-group", ref=key, label=peer, sort_key=(PEER_TIER, rank, key))


def subnet_source(net: Network) -> Source:
    """An IPv6 network: ranked by address, then prefix length."""
    return Source(
        kind="subnet",
        ref=str(net),
        label=f"IPv6 network {net}",
        sort_key=(SUBNET_TIER, 0, f"{int(net.network_address):039d}/{net.prefixlen:03d}"),
    )


# --- services ----------------------------------------------------------------------------------------------


def _service_groups(f: Flow, topology: Topology, cluster: Cluster, catalog: Catalog, prefix: str) -> list[ServiceGroupSpec]:
    """One service group per catalog row of the flow, with the row's effective ports."""
    rows = [catalog[row_id] for row_id in f.rows]
    groups = [_service_group(prefix, cluster.name, row.id, row.purpose, f.protocol, row_ports(row, topology, cluster)) for row in rows]
    if merge(r for g in groups for r in g.ports) != f.ports:
        # Not a row-by-row flow (never the case for flows into nodes today): one group for the whole flow.
        groups = [_service_group(prefix, cluster.name, "+".join(f.rows), f"{f.source} to {f.destination}", f.protocol, f.ports)]
    return groups


def _service_group(prefix: str, cluster: str, row: str, purpose: str, protocol: Protocol, ports: PortSet) -> ServiceGroupSpec:
    text = format_ports(ports)
    unit = "ICMP type" if protocol == "icmp" else f"{protocol.upper()}"
    return ServiceGroupSpec(
        key=f"{cluster}/{row}/{protocol}/{text}",
        name=f"{prefix}{cluster}-{row}-{protocol}-{text.replace('|', '_')}",
        description=f"EKS Anywhere cluster {cluster}: {purpose} ({unit} {text}; eksa-firewall catalog row {row})",
        row=row,
        purpose=purpose,
        protocol=protocol,
        ports=ports,
    )


def _purposes(keys: Iterable[str], groups: Mapping[str, ServiceGroupSpec]) -> str:
    return "; ".join(groups[k].label for k in keys)
