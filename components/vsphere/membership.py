"""How NSX finds a role's VMs, and what each way stands for.

A role group's members are IP sets (``membership: ip``), or VM conditions: an NSX tag (``tag``) or a VM-name
prefix (``vmName``), following how EKS-A names its VMs (``<cluster>-etcd-xxxxx``,
``<cluster>-<workerGroup>-<hash>-xxxxx``; upstream facts). The planner writes these conditions; the
interpreter, which cannot see VMs, reads a condition as the addresses the config gives the VMs it matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..addresses import Network
from ..endpoints import ETCD, WORKER, Role
from ..topology import Cluster, Topology
from .settings import NsxSettings, VSphereSettings


@dataclass(frozen=True, kw_only=True, slots=True)
class Condition:
    key: Literal["Tag", "Name"]
    operator: Literal["EQUALS", "STARTSWITH"]
    value: str

    def body(self) -> dict[str, Any]:
        return {
            "resource_type": "Condition",
            "member_type": "VirtualMachine",
            "key": self.key,
            "operator": self.operator,
            "value": self.value,
        }


def role_conditions(cluster: Cluster, role: Role, nsx: NsxSettings) -> tuple[Condition, ...]:
    """The VM conditions of a role group, when its membership is ``tag`` or ``vmName``."""
    how = nsx.membership_of(role)
    if how == "tag":
        return (Condition(key="Tag", operator="EQUALS", value=f"{nsx.nsx_tag_scope}|{cluster.name}-{role}"),)
    if how == "vmName":
        # EKS-A names VMs <cluster>-etcd-xxxxx and <cluster>-<workerGroup>-<hash>-xxxxx (upstream facts).
        if role == ETCD:
            return (Condition(key="Name", operator="STARTSWITH", value=f"{cluster.name}-etcd-"),)
        if role == WORKER:
            return tuple(Condition(key="Name", operator="STARTSWITH", value=f"{cluster.name}-{g.name}-") for g in cluster.worker_groups)
    return ()


def condition_addresses(topology: Topology, settings: VSphereSettings) -> dict[tuple[str, str, str], tuple[Network, ...]]:
    """What each VM condition stands for, given that EKS-A tags and names the VMs as documented: the
    addresses the config gives those VMs. (key, operator, value in lower case: NSX compares case-insensitively)."""
    out: dict[tuple[str, str, str], tuple[Network, ...]] = {}
    for cluster in topology.clusters:
        for role in cluster.roles:
            conditions = role_conditions(cluster, role, settings.nsx)
            if settings.nsx.membership_of(role) == "vmName" and role == WORKER:
                for g, c in zip(cluster.worker_groups, conditions, strict=True):
                    out[(c.key, c.operator, c.value.lower())] = g.machines.addresses
            else:
                for c in conditions:
                    out[(c.key, c.operator, c.value.lower())] = cluster.addresses_of(role)
    return out
