"""The planner's scoping: which security groups a stack creates, and which flows each group owns.

``Scope`` says which groups exist; ``duties`` says, flow by flow, which groups need an egress rule and which
an ingress rule. Only the planner uses this: ``verify`` derives what is required from the flows and the
declarative ``visibility.py``, so a scoping bug here shows up as a verify failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache

from ..addresses import within
from ..endpoints import ADMIN_MACHINE, CLIENT_RANGES, CONTROL_PLANE, CONTROL_PLANE_VIP, JENKINS, MANAGEMENT_CLUSTER, NODE_ROLES
from ..flows import Flow, FlowSet, endpoint_addresses
from ..reader import Network
from ..topology import Cluster, Topology
from .settings import AwsSettings, GroupKey, group_members


@dataclass(frozen=True, slots=True)
class Scope:
    """The groups a stack creates, and the addresses of each group's members (from the topology)."""

    topology: Topology
    keys: tuple[GroupKey, ...]
    _key_set: frozenset[GroupKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key_set", frozenset(self.keys))  # groups_of runs for every flow

    @classmethod
    def of(cls, topology: Topology, settings: AwsSettings) -> Scope:
        keys: list[GroupKey] = []
        if settings.groups.nodes:
            keys += [GroupKey(c.name, role) for c in topology.clusters for role in c.roles]
        if settings.groups.admin_machine and topology.admin_machine:
            keys.append(GroupKey("", ADMIN_MACHINE))
        if settings.groups.jenkins and topology.jenkins is not None:
            keys.append(GroupKey("", JENKINS))
        return cls(topology, tuple(keys))

    def members(self, key: GroupKey) -> tuple[Network, ...]:
        return group_members(self.topology, key)

    def groups_of(self, cluster: Cluster, endpoint: str) -> tuple[GroupKey, ...]:
        """The groups that stand for ``endpoint`` of ``cluster``: all of them in scope, or none."""
        candidates = endpoint_group_keys(self.topology, cluster, endpoint)
        return candidates if candidates and all(k in self._key_set for k in candidates) else ()


def endpoint_group_keys(topology: Topology, cluster: Cluster, endpoint: str) -> tuple[GroupKey, ...]:
    """The groups whose members are exactly ``endpoint``'s addresses (empty: a peer with no group)."""
    if endpoint in NODE_ROLES:
        role = cluster.machine_role(endpoint)
        return (GroupKey(cluster.name, role),) if role in cluster.roles else ()
    if endpoint == MANAGEMENT_CLUSTER and cluster.managed_by:
        manager = topology.cluster(cluster.managed_by)
        return tuple(GroupKey(manager.name, role) for role in manager.kubernetes_roles)
    if endpoint == ADMIN_MACHINE:
        return (GroupKey("", ADMIN_MACHINE),)
    if endpoint == JENKINS:
        return (GroupKey("", JENKINS),)
    return ()


# --- duties: which group needs which rule for which flow ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Duty:
    """One flow the groups are responsible for: ``egress`` groups send it, ``ingress`` groups admit it."""

    flow: Flow
    egress: tuple[GroupKey, ...]
    ingress: tuple[GroupKey, ...]
    stand_in: bool = False  # the source is a machine found inside a client list (see ``duties``)


def duties(topology: Topology, flows: FlowSet, scope: Scope) -> tuple[Duty, ...]:
    """The flows whose source or destination is a group of ``scope``.

    The control-plane VIP rides on a control-plane instance (kube-vip), so no group can admit traffic to
    the VIP but not to the instance's own address: a flow to the VIP is admitted by the control-plane
    group and is owed as a flow to the control-plane addresses. Egress rules, though, match destination
    addresses, so a flow to the VIP from a group stays a flow to the VIP's own address.

    A client list (clients.api/ssh/nodePort, Jenkins clients) that covers the admin machine or the Jenkins
    server, when those have a group, makes that machine a client too: its group must let the flow out,
    so the flow is owed again with that machine as its source ("stand-in"). The list's own CIDR rule
    already admits it at the destination, so a stand-in needs egress only.
    """

    @cache  # every duty of an endpoint shares one tuple of its groups
    def groups_of(cluster: str, endpoint: str) -> tuple[GroupKey, ...]:
        return scope.groups_of(topology.cluster(cluster), endpoint)

    out: list[Duty] = []
    for f in flows.flows:
        cluster = topology.cluster(f.cluster)
        senders = groups_of(f.cluster, f.source)
        if f.destination == CONTROL_PLANE_VIP:
            if senders:
                out.append(Duty(f, senders, ()))
            out.extend(_stand_ins(topology, groups_of, cluster, f, ()))
            admitters = groups_of(f.cluster, CONTROL_PLANE)
            if admitters:
                folded = replace(f, destination=CONTROL_PLANE)
                out.append(Duty(folded, senders, admitters))
                out.extend(_stand_ins(topology, groups_of, cluster, folded, admitters))
            continue
        admitters = groups_of(f.cluster, f.destination)
        if senders or admitters:
            out.append(Duty(f, senders, admitters))
        out.extend(_stand_ins(topology, groups_of, cluster, f, admitters))
    return tuple(out)


def _stand_ins(
    topology: Topology, groups_of: Callable[[str, str], tuple[GroupKey, ...]], cluster: Cluster, f: Flow, admitters: tuple[GroupKey, ...]
) -> list[Duty]:
    if f.source not in CLIENT_RANGES:
        return []
    clients = endpoint_addresses(topology, cluster, f.source)
    out: list[Duty] = []
    for machine in (ADMIN_MACHINE, JENKINS):
        groups = groups_of(cluster.name, machine)
        if machine == f.destination or not groups:
            continue
        addresses = endpoint_addresses(topology, cluster, machine)
        if addresses and all(any(within(a, c) for c in clients) for a in addresses):
            out.append(Duty(replace(f, source=machine), groups, admitters, stand_in=True))
    return out
