"""NSX services: one per (protocol, merged port set) of the enforced flows, shared by every cluster's policy.

TCP and UDP ports go into ``L4PortSetServiceEntry`` entries of at most 15 ports (a range counts as 2);
ICMP types into one ``ICMPTypeServiceEntry`` each, with the ICMPv6 message of the same meaning beside it
when the environment has IPv6 addresses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..catalog import Protocol
from ..endpoints import NODE_ROLES
from ..flows import Flow
from ..icmp import icmpv6_type
from ..ports import PortSet, format_ports
from ..topology import Topology
from .ownership import owner_tags

MAX_PORT_ENTRIES = 15  # L4PortSetServiceEntry.destination_ports: at most 15 items, a range counts as 2
# Our own bound on a service id (long port lists make long keys): a longer id keeps its start and a hash of its key.
SERVICE_ID_LENGTH = 64


@dataclass(frozen=True, kw_only=True, slots=True)
class ServiceEntry:
    id: str
    protocol: Literal["TCP", "UDP", "ICMPv4", "ICMPv6"]
    ports: tuple[str, ...] = ()
    icmp_type: int | None = None

    def body(self) -> dict[str, Any]:
        if self.protocol in ("TCP", "UDP"):
            return {
                "resource_type": "L4PortSetServiceEntry",
                "id": self.id,
                "display_name": self.id,
                "l4_protocol": self.protocol,
                "destination_ports": list(self.ports),
            }
        return {
            "resource_type": "ICMPTypeServiceEntry",
            "id": self.id,
            "display_name": self.id,
            "protocol": self.protocol,
            "icmp_type": self.icmp_type,
            "icmp_code": 0,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class ServiceSpec:
    key: str  # stable key: "<protocol>-<ports>"
    id: str
    display_name: str
    description: str
    entries: tuple[ServiceEntry, ...]

    @property
    def path(self) -> str:
        return f"/infra/services/{self.id}"

    def body(self, owner: str) -> dict[str, Any]:
        return {
            "resource_type": "Service",
            "id": self.id,
            "display_name": self.display_name,
            "description": self.description,
            "service_entries": [e.body() for e in self.entries],
            "tags": owner_tags(owner, None),
        }


def service_key(protocol: Protocol, ports: PortSet) -> str:
    """``tcp-2379to2380-6443``: unambiguous, and safe in NSX ids and Pulumi names."""
    return f"{protocol}-" + "-".join(str(r.lo) if r.lo == r.hi else f"{r.lo}to{r.hi}" for r in ports)


def service_specs(flows: Iterable[Flow], prefix: str, ipv6: bool) -> tuple[ServiceSpec, ...]:
    """One service per (protocol, merged port set) of ``flows``, by key. ``ipv6``: add the ICMPv6 entries."""
    services: dict[str, ServiceSpec] = {}
    for f in flows:
        key = service_key(f.protocol, f.ports)
        if key not in services:
            services[key] = service_spec(prefix, f.protocol, f.ports, ipv6)
    return tuple(sorted(services.values(), key=lambda s: s.key))


def service_spec(prefix: str, protocol: Protocol, ports: PortSet, ipv6: bool) -> ServiceSpec:
    key = service_key(protocol, ports)
    entries: list[ServiceEntry] = []
    if protocol == "icmp":
        for r in ports:
            for t in range(r.lo, r.hi + 1):
                entries.append(ServiceEntry(id=f"icmpv4-{t}", protocol="ICMPv4", icmp_type=t))
                if ipv6:
                    entries.append(ServiceEntry(id=f"icmpv6-{icmpv6_type(t)}", protocol="ICMPv6", icmp_type=icmpv6_type(t)))
    else:
        proto: Literal["TCP", "UDP"] = "TCP" if protocol == "tcp" else "UDP"
        for i, chunk in enumerate(port_chunks(ports), start=1):
            entries.append(ServiceEntry(id=protocol if i == 1 else f"{protocol}-{i}", protocol=proto, ports=chunk))
    sid = f"{prefix}-{key}"
    if len(sid) > SERVICE_ID_LENGTH:  # long port lists: keep the id readable and unique
        sid = f"{sid[: SERVICE_ID_LENGTH - 17]}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    return ServiceSpec(
        key=key,
        id=sid,
        display_name=f"{prefix} {protocol} {format_ports(ports)}",
        description=f"eksa-firewall: {protocol.upper()} {format_ports(ports)}" + (" (ICMP types)" if protocol == "icmp" else ""),
        entries=tuple(entries),
    )


def port_chunks(ports: PortSet) -> tuple[tuple[str, ...], ...]:
    """Split a port set into lists NSX accepts: at most 15 items each, a range counting as 2.

    Deterministic (in port order), so the same port set always gives the same entries:
    16 single ports -> 15 + 1; 8 ranges -> 7 ranges (14) + 1 range.
    """
    chunks: list[list[str]] = [[]]
    weight = 0
    for r in ports:
        w = 1 if r.lo == r.hi else 2
        if weight + w > MAX_PORT_ENTRIES:
            chunks.append([])
            weight = 0
        chunks[-1].append(str(r))
        weight += w
    return tuple(tuple(c) for c in chunks if c)


def has_ipv6(topology: Topology) -> bool:
    """Whether the admin machine, a client range or a cluster's machines or VIP have IPv6 addresses."""
    nets = [*topology.admin_machine, *topology.clients.api, *topology.clients.ssh, *topology.clients.node_port]
    for c in topology.clusters:
        nets += [*(a for role in NODE_ROLES for a in c.addresses_of(role)), c.endpoint]
    return any(n.version == 6 for n in nets)
