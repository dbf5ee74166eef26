"""What the Flow policies decide, as data (for ``verify``; see components/visibility.py).

Flow secures VMs by category: each role's policy decides what reaches the role's VMs; its outbound is left
open (eksa-firewall manages inbound traffic only). The control-plane VIP is an address a control-plane VM
holds (kube-vip): traffic to it meets the control-plane policy, which matches the VM (its category), so it
is judged at the control plane's addresses.

Pods: the objects see packets between machines only (a pod reaching its own node never leaves it; one reaching
another node is masqueraded or GENEVE-encapsulated), so this platform's flows carry no ``pods-on-node``.
"""

from __future__ import annotations

from ..endpoints import CONTROL_PLANE, CONTROL_PLANE_VIP, ETCD, WORKER
from ..topology import Topology
from ..visibility import Visibility


def visibility(topology: Topology) -> Visibility:
    return Visibility(inbound=frozenset({CONTROL_PLANE, ETCD, WORKER}), judged_at={CONTROL_PLANE_VIP: CONTROL_PLANE})
