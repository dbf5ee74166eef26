"""What a platform's firewall objects decide, as data; and from it, what ``verify`` requires them to allow.

Each platform declares a ``Visibility`` (``components/<platform>/visibility.py``): which endpoints' incoming
and outgoing connections its objects decide. ``required_accesses`` turns the flows into the address-level
accesses those objects must allow, using only this declaration and the flows: never the planner's own
scoping code, so a scoping bug in a planner shows up as a verify failure instead of cancelling out.

The rules, for a flow ``source -> destination`` expanded to its addresses:
- the destination's incoming connections are decided (``destination in inbound``): the access is owed;
- the source's outgoing connections are decided (``source in outbound``): the access is owed;
- an address that rides on another machine (kube-vip's control-plane VIP) may be decided at that machine's
  filter, which knows only the machine's own addresses (``judged_at``: VIP -> control-plane): the access is
  owed to the machine's addresses instead (still owed to the VIP itself where the source's outbound is decided);
- a machine whose outgoing connections are decided and which sits inside a client range is a client too
  (``clients_inside``: e.g. the admin machine inside ``clients.ssh``): the flow is owed from that machine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .addresses import Network, within
from .endpoints import CLIENT_RANGES
from .flows import Access, Flow, FlowSet, endpoint_addresses, normalize
from .topology import Topology


@dataclass(frozen=True, kw_only=True, slots=True)
class Visibility:
    """Which endpoints' connections a platform's firewall objects decide (see the module doc)."""

    inbound: frozenset[str] = frozenset()
    outbound: frozenset[str] = frozenset()
    judged_at: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    clients_inside: frozenset[str] = frozenset()


NOTHING = Visibility()


def required_accesses(topology: Topology, flows: FlowSet | Iterable[Flow], visibility: Visibility) -> frozenset[Access]:
    """The accesses the platform's objects must allow: each flow's, as far as the objects decide it."""
    items = flows.flows if isinstance(flows, FlowSet) else tuple(flows)
    owed: set[Access] = set()
    for flow in items:
        cluster = topology.cluster(flow.cluster)
        sources = endpoint_addresses(topology, cluster, flow.source)
        senders = [sources] if flow.source in visibility.outbound else []
        if flow.source in CLIENT_RANGES:
            for machine in visibility.clients_inside:
                inside = endpoint_addresses(topology, cluster, machine)
                if machine != flow.destination and inside and all(any(within(m, c) for c in sources) for m in inside):
                    senders.append(inside)
        destination = flow.destination
        judged = visibility.judged_at.get(destination)
        if destination in visibility.inbound:
            owed |= _accesses(topology, flow, sources, destination)
        elif judged is not None and judged in visibility.inbound:
            owed |= _accesses(topology, flow, sources, judged)
            for machines in senders:
                if machines is not sources:
                    owed |= _accesses(topology, flow, machines, judged)
        for machines in senders:
            owed |= _accesses(topology, flow, machines, destination)
    return normalize(owed)


def _accesses(topology: Topology, flow: Flow, sources: Iterable[Network], destination: str) -> set[Access]:
    destinations = endpoint_addresses(topology, topology.cluster(flow.cluster), destination)
    return {Access(s, d, flow.protocol, r) for s in sources for d in destinations if s.version == d.version for r in flow.ports}
