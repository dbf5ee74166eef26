"""The flows as an ACL table with concrete addresses, for whoever runs the physical firewalls.

``eksa-firewall acl --stack NAME [--format csv|markdown] [--output FILE]`` (components/cli/acl.py) exports it from the stack's config,
offline and without Pulumi: it is a report for people, not a resource, so it stays out of state and previews.

One line per flow, source network and destination network, in a deterministic order (flows as sorted
by ``build_flows``, then addresses as canonically sorted). Every flow is included, also those no host
ruleset sees (Rufio to the BMCs, clients to an external load balancer): a physical firewall between
the machines must pass them all. The flows from a node's own pods (``pods-on-node``) are there too, marked:
they never leave the node, so only its ruleset sees them and no physical firewall needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..catalog import Catalog, load_catalog
from ..endpoints import ADMIN_MACHINE, DHCP_CLIENTS, NODE_LOCAL
from ..flows import FlowSet, endpoint_addresses
from ..reader import Network
from ..topology import Topology
from .planner import destination_host

COLUMNS = (
    "cluster", "source", "source_cidr", "destination", "destination_cidr", "protocol", "ports",
    "host_firewall", "purpose", "catalog_rows", "note",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True, slots=True)
class AclEntry:
    cluster: str
    source: str
    source_cidr: str
    destination: str
    destination_cidr: str
    protocol: str
    ports: str
    host_firewall: str  # which rendered ruleset accepts it, or why none is needed
    purpose: str
    catalog_rows: str
    note: str

    def values(self) -> tuple[str, ...]:
        return (
            self.cluster, self.source, self.source_cidr, self.destination, self.destination_cidr, self.protocol,
            self.ports, self.host_firewall, self.purpose, self.catalog_rows, self.note,
        )  # fmt: skip


@dataclass(frozen=True, kw_only=True, slots=True)
class AclFlow:
    """One flow's lines: the columns every line of the flow shares, and its (source, destination) pairs.

    The exports render the shared columns once per flow and only join the addresses per line: a
    50-cluster environment has over 11,000 lines, and the plan renders them on every preview.
    """

    cluster: str
    source: str
    destination: str
    protocol: str
    ports: str
    host_firewall: str
    purpose: str
    catalog_rows: str
    note: str
    pairs: tuple[tuple[str, str], ...]  # (source CIDR, destination CIDR)

    def entries(self) -> list[AclEntry]:
        return [
            AclEntry(
                cluster=self.cluster,
                source=self.source,
                source_cidr=s,
                destination=self.destination,
                destination_cidr=d,
                protocol=self.protocol,
                ports=self.ports,
                host_firewall=self.host_firewall,
                purpose=self.purpose,
                catalog_rows=self.catalog_rows,
                note=self.note,
            )
            for s, d in self.pairs
        ]

    def cells(self, escape: Callable[[str], str]) -> tuple[str, str, str]:
        """The shared columns, escaped: before the source CIDR, between the CIDRs, after the destination CIDR."""
        e = escape
        return (
            f"{e(self.cluster)}\x00{e(self.source)}",
            e(self.destination),
            "\x00".join(e(v) for v in (self.protocol, self.ports, self.host_firewall, self.purpose, self.catalog_rows, self.note)),
        )


def acl_flows(topology: Topology, flows: FlowSet, catalog: Catalog | None = None) -> tuple[AclFlow, ...]:
    catalog = catalog or load_catalog()
    out: list[AclFlow] = []
    # (text, IP version) of each endpoint's networks, computed once per address tuple: endpoint_addresses
    # returns the same tuple object each time, and hashing ipaddress networks is slow.
    named: dict[int, tuple[tuple[Network, ...], tuple[tuple[str, int], ...]]] = {}

    def texts(nets: tuple[Network, ...]) -> tuple[tuple[str, int], ...]:
        hit = named.get(id(nets))
        if hit is None or hit[0] is not nets:
            hit = named[id(nets)] = (nets, tuple((str(n), n.version) for n in nets))
        return hit[1]

    for f in flows.flows:
        cluster = topology.cluster(f.cluster)
        where = destination_host(topology, f)
        if where is None:
            enforced = "none needed: outbound from the source, replies accepted as established"
        else:
            enforced = ADMIN_MACHINE if where[0] is None else f"{where[0]}/{where[1]}"
        note = ""
        if f.source == DHCP_CLIENTS:
            note = "DHCPDISCOVER/REQUEST from 0.0.0.0 to 255.255.255.255:67; crosses a router only through a DHCP relay (ip helper-address)"
        elif f.source in NODE_LOCAL:
            note = "a node's own pods reaching it (pod address as source): never leaves the node, no physical firewall sees it"
        elif f.protocol == "icmp":
            note = "ICMP echo request (type 8, code 0); IPv6: ICMPv6 type 128"
        sources = endpoint_addresses(topology, cluster, f.source)
        destinations = endpoint_addresses(topology, cluster, f.destination)
        out.append(
            AclFlow(
                cluster=f.cluster,
                source=f.source,
                destination=f.destination,
                protocol=f.protocol,
                ports=f"type {f.ports_text}" if f.protocol == "icmp" else f.ports_text,
                host_firewall=enforced,
                purpose="; ".join(dict.fromkeys(catalog[r].purpose for r in f.rows)),
                catalog_rows=", ".join(f.rows),
                note=note,
                pairs=tuple((s, d) for s, sv in texts(sources) for d, dv in texts(destinations) if sv == dv),
            )
        )
    return tuple(out)


def acl_entries(topology: Topology, flows: FlowSet, catalog: Catalog | None = None) -> tuple[AclEntry, ...]:
    """One entry per flow, source network and destination network."""
    return tuple(e for f in acl_flows(topology, flows, catalog) for e in f.entries())


def _lines(flows: tuple[AclFlow, ...], escape: Callable[[str], str], sep: str, start: str, end: str) -> list[str]:
    lines: list[str] = []
    escaped: dict[str, str] = {}  # each address text escaped once

    def cell(text: str) -> str:
        return escaped.get(text) or escaped.setdefault(text, escape(text))

    for f in flows:
        head, middle, tail = (c.replace("\x00", sep) for c in f.cells(escape))
        lines.extend(f"{start}{head}{sep}{cell(s)}{sep}{middle}{sep}{cell(d)}{sep}{tail}{end}" for s, d in f.pairs)
    return lines


def _csv_cell(value: str) -> str:
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _markdown_cell(value: str) -> str:
    return value.replace("|", "\\|")


def to_csv(flows: tuple[AclFlow, ...]) -> str:
    """RFC 4180 CSV (as Python's csv module writes it), a header line first."""
    return "\n".join([",".join(COLUMNS), *_lines(flows, _csv_cell, ",", "", "")]) + "\n"


def to_markdown(flows: tuple[AclFlow, ...], *, title: str) -> str:
    header = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    body = _lines(flows, _markdown_cell, " | ", "| ", " |")
    return f"# {title}\n\n" + "\n".join([*header, *body]) + "\n"


TITLE = "EKS Anywhere flows for the physical firewalls (eksa-firewall)"
