"""What a Flow stack changes about ``eksa-firewall probe``'s verdicts (the command: components/probe.py).

docs/platforms/nutanix.md ("Checking after pulumi up") explains the verdicts on this platform; ``caveats`` adds
the warnings that depend on the stack itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from ..topology import Topology
from .settings import parse_settings

UDP_REQUESTS: MappingProxyType[str, bytes] = MappingProxyType({})


def caveats(topology: Topology, clusters: Sequence[str]) -> tuple[str, ...]:
    """A policy in MONITOR drops nothing: a check into its cluster passes whatever the rules say."""
    settings = parse_settings(topology)
    monitored = [c for c in clusters if settings.state_of(c) == "MONITOR"]
    if not monitored:
        return ()
    return (
        f"the Flow policies of {', '.join(monitored)} are in MONITOR: Flow drops nothing there, so a reachable check does not "
        "show that a policy allows it (Flow's visualisation shows what ENFORCE would block). Probe again once they ENFORCE",
    )
