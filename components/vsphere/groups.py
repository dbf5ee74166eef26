"""NSX groups: one per node role of every cluster, and one per peer that opens connections into a cluster.

A role group (``<cluster>-<role>``) holds the role's VMs: an IP set by default, or NSX VM conditions
(``membership.py``). A peer group is an IP set, shared by every cluster (``peer-<peer>``: the admin machine,
client ranges, Jenkins, vCenter) except for the peers that belong to one cluster (``<cluster>-<peer>``: its
control-plane VIP and its API load balancer). The managing cluster of a cluster is no group of its own: rules
name its role groups, so they follow its membership.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..addresses import Network
from ..endpoints import API_LOAD_BALANCER, CONTROL_PLANE_VIP, MANAGEMENT_CLUSTER, NODE_ROLES, Role
from ..errors import Problem
from ..flows import Flow, endpoint_addresses
from ..topology import Cluster, Topology
from .membership import Condition, role_conditions
from .ownership import owner_tags
from .settings import NsxSettings

MAX_IP_EXPRESSION = 25_000  # IPAddressExpression.ip_addresses (NSX Policy API reference)
CLUSTER_PEERS = (CONTROL_PLANE_VIP, API_LOAD_BALANCER)  # peers that belong to one cluster


def nsx_address(net: Network) -> str:
    """A single host as a plain address, anything else as a CIDR (both are valid IPAddressExpression items)."""
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupSpec:
    key: str  # stable key: "<cluster>-<role>", "<cluster>-control-plane-vip" or "peer-<peer>"
    id: str
    display_name: str
    description: str
    addresses: tuple[Network, ...] = ()  # IP-set membership
    conditions: tuple[Condition, ...] = ()  # VM membership, joined by OR
    cluster: str | None = None  # the cluster it serves (its NSX tag), None for a peer every cluster shares

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


# --- keys: which groups stand for an endpoint ----------------------------------------------------------


def role_group_key(cluster: str, role: str) -> str:
    return f"{cluster}-{role}"


def peer_group_key(cluster: Cluster, peer: str) -> str:
    return f"{cluster.name}-{peer}" if peer in CLUSTER_PEERS else f"peer-{peer}"


def is_peer(cluster: Cluster, endpoint: str) -> bool:
    """``endpoint`` is neither a node role of ``cluster`` nor the cluster that manages it: it has a peer group."""
    return endpoint not in NODE_ROLES and not (endpoint == MANAGEMENT_CLUSTER and cluster.managed_by is not None)


def endpoint_group_keys(topology: Topology, cluster: Cluster, endpoint: str) -> tuple[str, ...]:
    """The groups that stand for ``endpoint`` of ``cluster`` in a rule."""
    if is_peer(cluster, endpoint):
        return (peer_group_key(cluster, endpoint),)
    if endpoint in NODE_ROLES:
        return (role_group_key(cluster.name, cluster.machine_role(endpoint)),)
    assert cluster.managed_by is not None  # neither a peer nor a role: the managing cluster, its Kubernetes nodes
    manager = topology.cluster(cluster.managed_by)
    return tuple(role_group_key(manager.name, role) for role in manager.kubernetes_roles)


# --- specs ---------------------------------------------------------------------------------------------


def group_specs(topology: Topology, flows: Iterable[Flow], nsx: NsxSettings) -> tuple[GroupSpec, ...]:
    """Every role group, and a group for each peer of ``flows`` (the flows the policies enforce), by key."""
    groups = {g.key: g for g in role_groups(topology, nsx)}
    for f in flows:
        cluster = topology.cluster(f.cluster)
        for endpoint in (f.source, f.destination):
            if is_peer(cluster, endpoint) and peer_group_key(cluster, endpoint) not in groups:
                group = peer_group(topology, cluster, endpoint, nsx.id_prefix)
                groups[group.key] = group
    return tuple(sorted(groups.values(), key=lambda g: g.key))


def role_groups(topology: Topology, nsx: NsxSettings) -> tuple[GroupSpec, ...]:
    return tuple(role_group(cluster, role, nsx) for cluster in topology.clusters for role in cluster.roles)


def role_group(cluster: Cluster, role: Role, nsx: NsxSettings) -> GroupSpec:
    key = role_group_key(cluster.name, role)
    conditions = role_conditions(cluster, role, nsx)
    return GroupSpec(
        key=key,
        id=f"{nsx.id_prefix}-{key}",
        display_name=f"{nsx.id_prefix}-{key}",
        description=f"EKS Anywhere cluster {cluster.name}: {role} machines ({nsx.membership_of(role)})",
        addresses=() if conditions else cluster.addresses_of(role),
        conditions=conditions,
        cluster=cluster.name,
    )


def peer_group(topology: Topology, cluster: Cluster, peer: str, prefix: str) -> GroupSpec:
    """An IP-set group of ``peer``'s addresses (those of ``cluster``'s for a peer that belongs to one cluster)."""
    key = peer_group_key(cluster, peer)
    own = peer in CLUSTER_PEERS
    return GroupSpec(
        key=key,
        id=f"{prefix}-{key}",
        display_name=f"{prefix}-{key}",
        description=f"eksa-firewall peer {peer}" + (f" of cluster {cluster.name}" if own else ""),
        addresses=endpoint_addresses(topology, cluster, peer),
        cluster=cluster.name if own else None,
    )


def group_limit_problems(groups: Iterable[GroupSpec]) -> list[Problem]:
    return [
        Problem(
            g.key,
            f"NSX group {g.id} would hold {len(g.addresses)} addresses; an IP expression holds at most {MAX_IP_EXPRESSION}",
            "summarise the addresses as wider CIDRs",
        )
        for g in groups
        if len(g.addresses) > MAX_IP_EXPRESSION
    ]
