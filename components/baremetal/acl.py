"""Pure: the flows as an ACL table with concrete addresses, for whoever runs the physical firewalls.

One line per flow, source network and destination network, in a deterministic order (flows as sorted
by ``build_flows``, then addresses as canonically sorted). Every flow is included, also those no host
ruleset sees (Rufio to the BMCs, clients to an external load balancer): a physical firewall between
the machines must pass them all.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from ..catalog import Catalog, load_catalog
from ..flows import FlowSet, endpoint_addresses
from ..reader import Network
from ..render import table
from ..topology import Topology
from .hosts import ADMIN_MACHINE
from .planner import DHCP_CLIENTS, destination_host

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
        # In COLUMNS order, spelled out: called for every line of both exports (thousands in a large environment).
        return (
            self.cluster, self.source, self.source_cidr, self.destination, self.destination_cidr, self.protocol,
            self.ports, self.host_firewall, self.purpose, self.catalog_rows, self.note,
        )  # fmt: skip


def acl_entries(topology: Topology, flows: FlowSet, catalog: Catalog | None = None) -> tuple[AclEntry, ...]:
    catalog = catalog or load_catalog()
    out: list[AclEntry] = []
    text: dict[Network, str] = {}  # str() of each network once
    for f in flows.flows:
        cluster = topology.cluster(f.cluster)
        where = destination_host(topology, f)
        if where is None:
            enforced = "none needed: outbound from the source, replies accepted as established"
        else:
            enforced = ADMIN_MACHINE if where[0] is None else f"{where[0]}/{where[1]}"
        purposes = list(dict.fromkeys(catalog[r].purpose for r in f.rows))
        ports = f"type {f.ports_text}" if f.protocol == "icmp" else f.ports_text
        note = ""
        if f.source == DHCP_CLIENTS:
            note = "DHCPDISCOVER/REQUEST from 0.0.0.0 to 255.255.255.255:67; crosses a router only through a DHCP relay (ip helper-address)"
        elif f.protocol == "icmp":
            note = "ICMP echo request (type 8, code 0); IPv6: ICMPv6 type 128"
        purpose, rows = "; ".join(purposes), ", ".join(f.rows)
        for s in endpoint_addresses(topology, cluster, f.source):
            for d in endpoint_addresses(topology, cluster, f.destination):
                if s.version != d.version:
                    continue
                out.append(
                    AclEntry(
                        cluster=f.cluster,
                        source=f.source,
                        source_cidr=text.get(s) or text.setdefault(s, str(s)),
                        destination=f.destination,
                        destination_cidr=text.get(d) or text.setdefault(d, str(d)),
                        protocol=f.protocol,
                        ports=ports,
                        host_firewall=enforced,
                        purpose=purpose,
                        catalog_rows=rows,
                        note=note,
                    )
                )
    return tuple(out)


def to_csv(entries: tuple[AclEntry, ...]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow(e.values())
    return buf.getvalue()


def to_markdown(entries: tuple[AclEntry, ...], *, title: str) -> str:
    body = table(COLUMNS, [e.values() for e in entries], "markdown")
    return f"# {title}\n\n{body}\n"
