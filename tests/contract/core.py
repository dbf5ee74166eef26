"""The contract tests' one coupling to the project's core (flows, verify, topology).

Everything else under tests/contract reads the registrations (what the program sends to the providers) and the
vendors' own models. The core is being redesigned: if a name below moves, this file is the one to change.

- ``required``: the accesses the stack must allow, taken from the public ``verify`` entry (its report carries
  the required side, computed from the flows the platform's objects are responsible for);
- ``compare``: verify's own comparison (address level, port by port) of required and allowed accesses;
- ``access``: an allowed access, in the unit ``compare`` takes;
- ``role_members``: the addresses of a node role or a machine (what a security group tagged with it stands for).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from ipaddress import IPv4Network, IPv6Network

from components.flows import Access, endpoint_addresses, normalize
from components.ports import MAX_ICMP_TYPE, MAX_PORT, PortRange
from components.verify import Report, compare, verify
from tests.helpers import Planned

__all__ = ["MAX_ICMP_TYPE", "MAX_PORT", "Access", "Network", "Report", "access", "check", "required", "role_members", "sample_clusters"]

Network = IPv4Network | IPv6Network


def required(planned: Planned) -> frozenset[Access]:
    """What the stack's objects must allow: verify's required side, which does not depend on the objects (given
    none, verify skips reading them back: at 50 clusters that reading is most of its time)."""
    return verify(planned.topology, planned.flows, ()).required


def check(platform: str, planned: Planned, allowed: Iterable[Access], keep: Callable[[Access], bool] | None = None) -> Report:
    """verify's comparison of the required accesses (those ``keep`` selects, for a sample) with ``allowed``
    (read from somewhere else than verify reads)."""
    need = required(planned)
    return compare(platform, need if keep is None else (a for a in need if keep(a)), normalize(allowed))


def sample_clusters(planned: Planned) -> frozenset[str]:
    """A sample closed under management: the clusters connected (managedBy, either way) to the first and the
    last cluster. Rules never cross such a set's boundary, so its objects can be checked on their own."""
    clusters = planned.topology.clusters
    links: dict[str, set[str]] = {c.name: set() for c in clusters}
    for c in clusters:
        if c.managed_by:
            links[c.name].add(c.managed_by)
            links[c.managed_by].add(c.name)
    chosen: set[str] = set()
    todo = [clusters[0].name, clusters[-1].name]
    while todo:
        name = todo.pop()
        if name not in chosen:
            chosen.add(name)
            todo.extend(links[name])
    return frozenset(chosen)


def access(source: Network, destination: Network, protocol: str, lo: int, hi: int) -> Access:
    return Access(source, destination, protocol, PortRange(lo, hi))  # type: ignore[arg-type]


def role_members(planned: Planned, cluster: str, role: str) -> tuple[Network, ...]:
    """The machines a group of ``role`` (of ``cluster``; empty for the admin machine and Jenkins) stands for."""
    topology = planned.topology
    if role in ("admin-machine", "jenkins"):
        return endpoint_addresses(topology, topology.clusters[0], role)
    try:
        c = topology.cluster(cluster)
    except KeyError:
        return ()
    if role == "etcd" and c.external_etcd is None:
        return ()
    return endpoint_addresses(topology, c, role)
