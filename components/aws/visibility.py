"""What the security groups decide, as data (for ``verify``; see components/visibility.py).

Security groups are stateful and sit on the machines that carry them: a group decides both what reaches its
members (ingress) and what they send (egress). The members of the groups a stack creates are the cluster
nodes (``aws.groups.nodes``), the admin machine (``aws.groups.adminMachine``) and the Jenkins server
(``aws.groups.jenkins``). The control-plane VIP rides on a control-plane instance (kube-vip): a group can
admit traffic only by the instance's own address, so traffic to the VIP is judged at the control plane.
A machine with a group of its own that sits inside a client range sends what the range may send.

Pods: the objects see packets between machines only (a pod reaching its own node never leaves it; one reaching
another node is masqueraded or GENEVE-encapsulated), so this platform's flows carry no ``pods-on-node``.
"""

from __future__ import annotations

from ..endpoints import ADMIN_MACHINE, CONTROL_PLANE, CONTROL_PLANE_VIP, ETCD, JENKINS, MANAGEMENT_CLUSTER, WORKER
from ..topology import Topology
from ..visibility import Visibility
from .settings import parse_settings


def visibility(topology: Topology) -> Visibility:
    groups = parse_settings(topology).groups
    members: set[str] = set()
    if groups.nodes:
        members |= {CONTROL_PLANE, ETCD, WORKER, MANAGEMENT_CLUSTER}
    if groups.admin_machine and topology.admin_machine:
        members.add(ADMIN_MACHINE)
    if groups.jenkins and topology.jenkins is not None:
        members.add(JENKINS)
    machines = frozenset(members & {ADMIN_MACHINE, JENKINS})
    return Visibility(
        inbound=frozenset(members),
        outbound=frozenset(members),
        judged_at={CONTROL_PLANE_VIP: CONTROL_PLANE},
        clients_inside=machines,
    )
