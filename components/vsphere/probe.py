"""What an NSX stack changes about ``eksa-firewall probe``'s verdicts (the command: components/probe.py).

docs/platforms/vsphere.md ("Checking after pulumi up") explains the verdicts on this platform; ``caveats`` adds
the warnings that depend on the stack itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from ..topology import Topology
from .settings import parse_settings

UDP_REQUESTS: MappingProxyType[str, bytes] = MappingProxyType({})


def caveats(topology: Topology, clusters: Sequence[str]) -> tuple[str, ...]:
    nsx = parse_settings(topology).nsx
    if not nsx.enabled:
        return (
            "vsphere.nsx.enabled is false: this stack creates no NSX policy, so the checks test the network and other DFW policies only",
        )
    if nsx.mode == "audit":
        return (
            "vsphere.nsx.mode is audit: each policy's last rule ALLOWs (and logs) what no rule matches, so a reachable check does "
            "not show that a rule allows it; the DFW log does (rule other-inbound). Probe again after switching to enforce",
        )
    return ()
