"""Pure: (topology, flows, settings) -> vCenter tags and NSX groups, services and security policies.

Everything here is frozen data with stable keys; ``component.py`` turns it into Pulumi resources and
``interpret.py`` reads the NSX bodies back. The NSX object shapes and limits are those of the NSX Policy
API (``/policy/api/v1``; see docs/platforms/vsphere.md for the sources).

Design, in short:
- one group per node role of every cluster (IP set by default; NSX VM-tag or VM-name condition on request),
  one IP-set group per peer that opens connections into a cluster (admin machine, client ranges, ...);
- one service per (protocol, merged port set), split into entries of at most 15 ports;
- one security policy per cluster, applied to its role groups: one ALLOW rule per (source, destination)
  of the flows into the cluster's nodes and its control-plane VIP, then one logged rule for all other
  traffic into them: DROP (mode enforce) or ALLOW (mode audit).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..catalog import Protocol
from ..errors import Problem, QuotaError
from ..flows import API_LOAD_BALANCER, NODE_ROLES, Flow, FlowSet, endpoint_addresses
from ..icmp import icmpv6_type
from ..ports import PortSet, format_ports
from ..reader import Network, canonical_networks, key_join
from ..topology import Cluster, Topology
from .membership import Condition, role_addresses, role_conditions
from .settings import VSphereSettings

# --- NSX Policy API limits (NSX-T 3.x / 4.x API reference: Service, Rule, Group) ---------------------
MAX_PORT_ENTRIES = 15  # L4PortSetServiceEntry.destination_ports: at most 15 items, a range counts as 2
MAX_RULE_LIST = 128  # Rule source_groups / destination_groups / services / scope
MAX_IP_EXPRESSION = 25_000  # IPAddressExpression.ip_addresses
MAX_ID = 255

VIP = "control-plane-vip"
# Destinations the per-cluster policy is responsible for: the cluster's own VMs and the VIP they hold.
ENFORCED_DESTINATIONS = (*NODE_ROLES, VIP)
# Rule sequence numbers: destination code * 100 + source code. Fixed tables, so adding a rule (a new peer,
# Jenkins, external etcd) never renumbers the others; the final rule comes after every possible one.
_DEST_CODES = {"control-plane": 1, VIP: 2, "etcd": 3, "worker": 4}
_SOURCE_CODES = {
    "control-plane": 1, "etcd": 2, "worker": 3, API_LOAD_BALANCER: 4, "management-cluster": 5,
    "admin-machine": 6, "jenkins": 7, "api-clients": 8, "ssh-clients": 9, "nodeport-clients": 10,
    "jenkins-clients": 11, "vcenter": 12, VIP: 13,
}  # fmt: skip
FINAL_RULE_ID = "other-inbound"
FINAL_RULE_SEQUENCE = 1000
# ICMP types are given in ICMPv4 terms by the catalog; the same message in ICMPv6 (RFC 4443).

Action = Literal["ALLOW", "DROP", "REJECT"]


def _stable_code(text: str, lo: int, span: int) -> int:
    return lo + int(hashlib.sha256(text.encode()).hexdigest(), 16) % span


def rule_sequence(source: str, destination: str) -> int:
    dest = _DEST_CODES.get(destination) or _stable_code(destination, 5, 4)
    src = _SOURCE_CODES.get(source) or _stable_code(source, 50, 50)
    return dest * 100 + src


def nsx_address(net: Network) -> str:
    """A single host as a plain address, anything else as a CIDR (both are valid IPAddressExpression items)."""
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


# --- specs -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class TagSpec:
    cluster: str
    role: str
    name: str
    description: str


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupSpec:
    key: str  # stable key: "<cluster>-<role>", "<cluster>-control-plane-vip" or "peer-<peer>"
    id: str
    display_name: str
    description: str
    addresses: tuple[Network, ...] = ()  # IP-set membership
    conditions: tuple[Condition, ...] = ()  # VM membership, joined by OR
    cluster: str | None = None
    role: str | None = None

    def path(self, domain: str) -> str:
        return f"/infra/domains/{domain}/groups/{self.id}"

    def body(self, owner: str) -> dict[str, Any]:
        expression: list[dict[str, Any]] = []
        # One IPAddressExpression per IP version: NSX refuses IPv4 and IPv6 addresses in one expression
        # (vsphere-automation-sdk-go services/nsxt/model, type IPAddressExpression).
        for version in (4, 6):
            items = [nsx_address(a) for a in self.addresses if a.version == version]
            if items:
                if expression:
                    expression.append({"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"})
                expression.append({"resource_type": "IPAddressExpression", "ip_addresses": items})
        for c in self.conditions:
            if expression:
                expression.append({"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"})
            expression.append(c.body())
        return {
            "resource_type": "Group",
            "id": self.id,
            "display_name": self.display_name,
            "description": self.description,
            "expression": expression,
            "tags": owner_tags(owner, self.cluster),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class ServiceEntry:
    id: str
    protocol: Literal["TCP", "UDP", "ICMPv4", "ICMPv6"]
    ports: tuple[str, ...] = ()
    icmp_type: int | None = None

    def body(self) -> dict[str, Any]:
        if self.protocol in ("TCP", "UDP"):
            return {
                "resource_type": "L4PortSetServiceEntry",
                "id": self.id,
                "display_name": self.id,
                "l4_protocol": self.protocol,
                "destination_ports": list(self.ports),
            }
        return {
            "resource_type": "ICMPTypeServiceEntry",
            "id": self.id,
            "display_name": self.id,
            "protocol": self.protocol,
            "icmp_type": self.icmp_type,
            "icmp_code": 0,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class ServiceSpec:
    key: str  # stable key: "<protocol>-<ports>"
    id: str
    display_name: str
    description: str
    entries: tuple[ServiceEntry, ...]

    @property
    def path(self) -> str:
        return f"/infra/services/{self.id}"

    def body(self, owner: str) -> dict[str, Any]:
        return {
            "resource_type": "Service",
            "id": self.id,
            "display_name": self.display_name,
            "description": self.description,
            "service_entries": [e.body() for e in self.entries],
            "tags": owner_tags(owner, None),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleSpec:
    id: str
    display_name: str
    description: str
    sequence_number: int
    sources: tuple[str, ...]  # paths, or ("ANY",)
    destinations: tuple[str, ...]
    services: tuple[str, ...]
    action: Action
    logged: bool
    tag: str

    def body(self) -> dict[str, Any]:
        return {
            "resource_type": "Rule",
            "id": self.id,
            "display_name": self.display_name,
            "description": self.description,
            "sequence_number": self.sequence_number,
            "source_groups": list(self.sources),
            "destination_groups": list(self.destinations),
            "services": list(self.services),
            "scope": ["ANY"],
            "action": self.action,
            # Inbound at the destination VM's vNIC: the policy restricts what enters the cluster's VMs and
            # leaves their outbound traffic to the rest of the DFW.
            "direction": "IN",
            "ip_protocol": "IPV4_IPV6",
            "logged": self.logged,
            "disabled": False,
            "tag": self.tag,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class PolicySpec:
    cluster: str
    id: str
    display_name: str
    description: str
    category: str
    sequence_number: int
    scope: tuple[str, ...]
    rules: tuple[RuleSpec, ...]
    groups: tuple[str, ...]  # group keys the policy refers to (scope and rules)
    services: tuple[str, ...]  # service keys

    def path(self, domain: str) -> str:
        return f"/infra/domains/{domain}/security-policies/{self.id}"

    def body(self, owner: str) -> dict[str, Any]:
        return {
            "resource_type": "SecurityPolicy",
            "id": self.id,
            "display_name": self.display_name,
            "description": self.description,
            "category": self.category,
            "sequence_number": self.sequence_number,
            "stateful": True,
            "tcp_strict": True,
            "scope": list(self.scope),
            "rules": [r.body() for r in self.rules],
            "tags": owner_tags(owner, self.cluster),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class VSpherePlan:
    tags: tuple[TagSpec, ...]
    groups: tuple[GroupSpec, ...]
    services: tuple[ServiceSpec, ...]
    policies: tuple[PolicySpec, ...]
    domain: str = "default"
    enforced: tuple[Flow, ...] = field(default=())

    def group(self, key: str) -> GroupSpec:
        return next(g for g in self.groups if g.key == key)

    def service(self, key: str) -> ServiceSpec:
        return next(s for s in self.services if s.key == key)


OWNER_SCOPE = "eksa-firewall/owner"
CLUSTER_SCOPE = "eksa-firewall/cluster"


def owner_tags(owner: str, cluster: str | None) -> list[dict[str, str]]:
    """NSX tags on every object: who manages it (the provider refuses to take over another owner's object)."""
    tags = [{"scope": OWNER_SCOPE, "tag": owner[:256]}]
    if cluster:
        tags.append({"scope": CLUSTER_SCOPE, "tag": cluster})
    return tags


# --- planning ----------------------------------------------------------------------------------------


def enforced_flows(topology: Topology, flows: FlowSet | Iterable[Flow]) -> tuple[Flow, ...]:
    """The flows a cluster's policy decides: everything into its VMs and into the control-plane VIP."""
    items = flows.flows if isinstance(flows, FlowSet) else tuple(flows)
    return tuple(f for f in items if f.destination in ENFORCED_DESTINATIONS)


def tag_specs(topology: Topology, settings: VSphereSettings) -> tuple[TagSpec, ...]:
    if not settings.tags.enabled:
        return ()
    return tuple(
        TagSpec(
            cluster=c.name,
            role=role,
            name=f"{c.name}-{role}",
            description=f"EKS Anywhere cluster {c.name}: {role} machines (VSphereMachineConfig.spec.tags)",
        )
        for c in topology.clusters
        for role in c.roles
    )


def _peer_group_key(cluster: Cluster, peer: str) -> str:
    # The VIP and the API load balancer belong to one cluster; the other peers are shared by all.
    return f"{cluster.name}-{peer}" if peer in (VIP, API_LOAD_BALANCER) else f"peer-{peer}"


def plan(topology: Topology, flows: FlowSet, settings: VSphereSettings) -> VSpherePlan:
    """Every object of the vSphere backend, keyed by stable names; raises QuotaError past NSX limits."""
    nsx = settings.nsx
    tags = tag_specs(topology, settings)
    if not nsx.enabled:
        return VSpherePlan(tags=tags, groups=(), services=(), policies=(), domain=nsx.domain)
    prefix = nsx.id_prefix
    domain = nsx.domain
    problems: list[Problem] = []
    groups: dict[str, GroupSpec] = {}

    for cluster in topology.clusters:
        for role in cluster.roles:
            conditions = role_conditions(cluster, role, nsx)
            key = f"{cluster.name}-{role}"
            groups[key] = GroupSpec(
                key=key,
                id=f"{prefix}-{key}",
                display_name=f"{prefix}-{key}",
                description=f"EKS Anywhere cluster {cluster.name}: {role} machines ({nsx.membership_of(role)})",
                addresses=() if conditions else role_addresses(cluster, role),
                conditions=conditions,
                cluster=cluster.name,
                role=role,
            )

    enforced = enforced_flows(topology, flows)
    by_cluster: dict[str, list[Flow]] = defaultdict(list)
    for f in enforced:
        by_cluster[f.cluster].append(f)

    def endpoint_groups(cluster: Cluster, endpoint: str) -> tuple[str, ...]:
        """Group keys that stand for ``endpoint`` of ``cluster`` (creating peer groups on first use)."""
        if endpoint in NODE_ROLES:
            role = "control-plane" if endpoint == "etcd" and cluster.external_etcd is None else endpoint
            return (f"{cluster.name}-{role}",)
        if endpoint == "management-cluster" and cluster.managed_by:
            manager = topology.cluster(cluster.managed_by)
            return tuple(f"{manager.name}-{r}" for r in manager.roles if r != "etcd")
        key = _peer_group_key(cluster, endpoint)
        if key not in groups:
            addresses = endpoint_addresses(topology, cluster, endpoint)
            groups[key] = GroupSpec(
                key=key,
                id=f"{prefix}-{key}",
                display_name=f"{prefix}-{key}",
                description=f"eksa-firewall peer {endpoint}" + (f" of cluster {cluster.name}" if key.startswith(cluster.name) else ""),
                addresses=addresses,
                cluster=cluster.name if not key.startswith("peer-") else None,
            )
        return (key,)

    services: dict[str, ServiceSpec] = {}
    has_v6 = _has_ipv6(topology)

    def service_for(protocol: Protocol, ports: PortSet) -> str:
        key = service_key(protocol, ports)
        if key not in services:
            services[key] = _service(prefix, key, protocol, ports, has_v6)
        return key

    policies: list[PolicySpec] = []
    for cluster in topology.clusters:
        rules: list[RuleSpec] = []
        used_groups: set[str] = set()
        used_services: set[str] = set()
        pairs: dict[tuple[str, str], list[Flow]] = defaultdict(list)
        for f in by_cluster.get(cluster.name, ()):
            pairs[(f.source, f.destination)].append(f)
        for (source, destination), pair_flows in sorted(pairs.items(), key=lambda kv: rule_sequence(*kv[0])):
            src = endpoint_groups(cluster, source)
            dst = endpoint_groups(cluster, destination)
            svc = sorted({service_for(f.protocol, f.ports) for f in pair_flows})
            used_groups.update(src, dst)
            used_services.update(svc)
            rows = sorted({r for f in pair_flows for r in f.rows})
            rules.append(
                RuleSpec(
                    id=f"{source}-to-{destination}",
                    display_name=f"{source} to {destination}",
                    description=f"catalog rows: {', '.join(rows)}"[:1024],
                    sequence_number=rule_sequence(source, destination),
                    sources=tuple(groups[k].path(domain) for k in src),
                    destinations=tuple(groups[k].path(domain) for k in dst),
                    services=tuple(services[k].path for k in svc),
                    action="ALLOW",
                    logged=nsx.log_allowed,
                    tag=nsx.log_label,
                )
            )
        own = [f"{cluster.name}-{r}" for r in cluster.roles]
        protected = list(own)
        if any(f.destination == VIP for f in by_cluster.get(cluster.name, ())):
            protected.append(_peer_group_key(cluster, VIP))
        used_groups.update(protected)
        rules.append(
            RuleSpec(
                id=FINAL_RULE_ID,
                display_name=f"other traffic into {cluster.name}" + (" (audit)" if nsx.mode == "audit" else ""),
                description="every connection into the cluster's machines that no rule above allows"
                + (": allowed and logged (audit mode)" if nsx.mode == "audit" else ": dropped and logged"),
                sequence_number=FINAL_RULE_SEQUENCE,
                sources=("ANY",),
                destinations=tuple(groups[k].path(domain) for k in protected),
                services=("ANY",),
                action="ALLOW" if nsx.mode == "audit" else "DROP",
                logged=True,
                tag=nsx.log_label,
            )
        )
        scope = tuple(groups[k].path(domain) for k in own) if nsx.applied_to == "groups" else ("ANY",)
        policies.append(
            PolicySpec(
                cluster=cluster.name,
                id=f"{prefix}-{cluster.name}",
                display_name=f"{prefix}-{cluster.name}",
                description=f"eksa-firewall: what may connect into EKS Anywhere cluster {cluster.name} ({nsx.mode} mode)",
                category=nsx.category,
                sequence_number=nsx.sequence_number,
                scope=scope,
                rules=tuple(rules),
                groups=tuple(sorted(used_groups | set(own))),
                services=tuple(sorted(used_services)),
            )
        )
        problems.extend(_rule_limits(cluster, rules, topology))

    for g in groups.values():
        if len(g.addresses) > MAX_IP_EXPRESSION:
            problems.append(
                Problem(
                    g.key,
                    f"NSX group {g.id} would hold {len(g.addresses)} addresses; an IP expression holds at most {MAX_IP_EXPRESSION}",
                    "summarise the addresses as wider CIDRs",
                )
            )
    if problems:
        raise QuotaError(problems)
    return VSpherePlan(
        tags=tags,
        groups=tuple(sorted(groups.values(), key=lambda g: g.key)),
        services=tuple(sorted(services.values(), key=lambda s: s.key)),
        policies=tuple(policies),
        domain=domain,
        enforced=enforced,
    )


def _rule_limits(cluster: Cluster, rules: Iterable[RuleSpec], topology: Topology) -> list[Problem]:
    out: list[Problem] = []
    for rule in rules:
        for name, items in (("sources", rule.sources), ("destinations", rule.destinations), ("services", rule.services)):
            if len(items) > MAX_RULE_LIST:
                out.append(
                    Problem(
                        key_join(f"{topology.key_prefix}clusters", cluster.name),
                        f"NSX rule {rule.id} would list {len(items)} {name}; a rule lists at most {MAX_RULE_LIST}",
                        "merge port options or address ranges",
                    )
                )
    return out


def _has_ipv6(topology: Topology) -> bool:
    nets: list[Network] = [*topology.admin_machine, *topology.clients.api, *topology.clients.ssh, *topology.clients.node_port]
    for c in topology.clusters:
        nets += [*c.control_plane.addresses, *c.etcd, *c.workers, c.endpoint]
    return any(isinstance(n, ipaddress.IPv6Network) for n in canonical_networks(nets))


def service_key(protocol: Protocol, ports: PortSet) -> str:
    """``tcp-2379to2380-6443``: unambiguous, and safe in NSX ids and Pulumi names."""
    return f"{protocol}-" + "-".join(str(r.lo) if r.lo == r.hi else f"{r.lo}to{r.hi}" for r in ports)


def port_chunks(ports: PortSet) -> tuple[tuple[str, ...], ...]:
    """Split a port set into lists NSX accepts: at most 15 items each, a range counting as 2.

    Deterministic (in port order), so the same port set always gives the same entries:
    16 single ports -> 15 + 1; 8 ranges -> 7 ranges (14) + 1 range.
    """
    chunks: list[list[str]] = [[]]
    weight = 0
    for r in ports:
        w = 1 if r.lo == r.hi else 2
        if weight + w > MAX_PORT_ENTRIES:
            chunks.append([])
            weight = 0
        chunks[-1].append(str(r))
        weight += w
    return tuple(tuple(c) for c in chunks if c)


def port_weight(ports: Iterable[str]) -> int:
    return sum(2 if "-" in p else 1 for p in ports)


def _service(prefix: str, key: str, protocol: Protocol, ports: PortSet, has_v6: bool) -> ServiceSpec:
    entries: list[ServiceEntry] = []
    if protocol == "icmp":
        for r in ports:
            for t in range(r.lo, r.hi + 1):
                entries.append(ServiceEntry(id=f"icmpv4-{t}", protocol="ICMPv4", icmp_type=t))
                if has_v6:
                    entries.append(ServiceEntry(id=f"icmpv6-{icmpv6_type(t)}", protocol="ICMPv6", icmp_type=icmpv6_type(t)))
    else:
        proto: Literal["TCP", "UDP"] = "TCP" if protocol == "tcp" else "UDP"
        for i, chunk in enumerate(port_chunks(ports), start=1):
            entries.append(ServiceEntry(id=protocol if i == 1 else f"{protocol}-{i}", protocol=proto, ports=chunk))
    sid = f"{prefix}-{key}"
    if len(sid) > 64:  # long port lists: keep the id readable and unique
        sid = f"{sid[:47]}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    return ServiceSpec(
        key=key,
        id=sid,
        display_name=f"{prefix} {protocol} {format_ports(ports)}",
        description=f"eksa-firewall: {protocol.upper()} {format_ports(ports)}" + (" (ICMP types)" if protocol == "icmp" else ""),
        entries=tuple(entries),
    )
