"""What the NSX policies decide, as data (for ``verify``; see components/visibility.py).

Each cluster's policy applies to its VMs and decides what reaches them: the node roles and the
control-plane VIP, which NSX sees as a destination address on a control-plane VM's vNIC. Its rules apply
inbound only: what the VMs send to peers is left to the rest of the DFW and the network. vCenter tags decide
nothing. With ``vsphere.nsx.enabled: false`` no policy exists.

Pods: the objects see packets between machines only (a pod reaching its own node never leaves it; one reaching
another node is masqueraded or GENEVE-encapsulated), so this platform's flows carry no ``pods-on-node``.
"""

from __future__ import annotations

from ..endpoints import CONTROL_PLANE, CONTROL_PLANE_VIP, ETCD, WORKER
from ..topology import Topology
from ..visibility import NOTHING, Visibility
from .settings import parse_settings


def visibility(topology: Topology) -> Visibility:
    if not parse_settings(topology).nsx.enabled:
        return NOTHING
    return Visibility(inbound=frozenset({CONTROL_PLANE, ETCD, WORKER, CONTROL_PLANE_VIP}))
