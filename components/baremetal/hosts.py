"""Which machines get a ruleset, and which addresses each of them answers for.

Pure and derived from the topology alone (never from the flows), so the planner and the interpreter
agree on where traffic lands without the interpreter trusting the planner's output.

- the admin machine (during `eksctl anywhere create` it runs the Tinkerbell stack: Smee, tink-server, ...);
- per cluster, the control-plane nodes: they hold the cluster's control-plane VIP (kube-vip) and, on a
  management cluster, the Tinkerbell VIP (`tinkerbellIP`) behind which the Tinkerbell services run after create;
- per cluster, the external etcd machines (only with `etcd.external: true`);
- per cluster, the worker nodes (every worker group: the catalog's rows do not differ between groups).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..addresses import Network, canonical_networks
from ..endpoints import ADMIN_MACHINE, CONTROL_PLANE
from ..topology import Cluster, Topology

# A DHCPDISCOVER comes from 0.0.0.0 to the limited broadcast: the DHCP server's ruleset admits it beside its own address.
LIMITED_BROADCAST = ipaddress.IPv4Network("255.255.255.255/32")


@dataclass(frozen=True, kw_only=True, slots=True)
class HostRole:
    """The machines of one role that share a ruleset, and the virtual addresses they hold."""

    cluster: str | None  # None for the admin machine (shared by every cluster)
    role: str  # admin-machine, or the node role: control-plane, etcd, worker
    machines: tuple[Network, ...]  # the machines' own addresses
    vips: tuple[Network, ...] = ()  # virtual addresses these machines hold (kube-vip)

    @property
    def key(self) -> str:
        """Stable key: ``admin-machine`` or ``<cluster>/<role>``."""
        return self.role if self.cluster is None else f"{self.cluster}/{self.role}"

    @property
    def file_name(self) -> str:
        return self.key.replace("/", "-") + ".nft"

    @property
    def held(self) -> tuple[Network, ...]:
        """Every address a packet to these machines can carry as destination."""
        return canonical_networks([*self.machines, *self.vips])


def tinkerbell_holder(topology: Topology, cluster: Cluster) -> str:
    """The cluster whose control-plane nodes hold the Tinkerbell VIP for ``cluster``'s machines:
    the Tinkerbell stack runs in the management cluster (a self-managed cluster is its own)."""
    return cluster.managed_by or cluster.name


def host_roles(topology: Topology) -> tuple[HostRole, ...]:
    out: list[HostRole] = []
    if topology.admin_machine:
        out.append(HostRole(cluster=None, role=ADMIN_MACHINE, machines=topology.admin_machine))
    tinkerbell = topology.endpoints.tinkerbell_ip
    holders = {tinkerbell_holder(topology, x) for x in topology.clusters}
    for c in topology.clusters:
        holds_tinkerbell = tinkerbell is not None and c.name in holders
        vips = canonical_networks([c.endpoint, *([tinkerbell] if holds_tinkerbell and tinkerbell is not None else [])])
        for role in c.roles:  # the control plane, external etcd, the workers: each with machines of its own
            out.append(HostRole(cluster=c.name, role=role, machines=c.addresses_of(role), vips=vips if role == CONTROL_PLANE else ()))
    return tuple(out)
