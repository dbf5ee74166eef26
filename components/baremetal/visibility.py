"""What the host rulesets decide, as data (for ``verify``; see components/visibility.py).

Each ruleset filters its machines' input hook: the admin machine, and each cluster's control plane (with the
control-plane VIP, and the Tinkerbell VIP on the management cluster's control plane: kube-vip answers on
those nodes, so the packets reach their input hook addressed to the VIP), external etcd and workers.
Output and forward are not filtered. BMCs, an external API load balancer, Jenkins and BGP routers are machines
the rulesets are not on (the ACL export covers the physical firewalls in front of them).

Being on the machines, the rulesets also see a node's own pods reaching it (from ``clusterNetwork.pods``): the
platform declares ``host_firewall``, so its flows carry ``pods-on-node``, owed like any flow into these roles.
"""

from __future__ import annotations

from ..endpoints import ADMIN_MACHINE, CONTROL_PLANE, CONTROL_PLANE_VIP, ETCD, TINKERBELL_VIP, WORKER
from ..topology import Topology
from ..visibility import Visibility


def visibility(topology: Topology) -> Visibility:
    return Visibility(inbound=frozenset({ADMIN_MACHINE, CONTROL_PLANE, CONTROL_PLANE_VIP, TINKERBELL_VIP, ETCD, WORKER}))
