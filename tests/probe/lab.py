"""A namespace lab for ``eksa-firewall probe`` on every platform (tests/probe/test_lab.py).

The machines of a lab stack (tests/probe/stacks/, each platform's example moved into 198.51.100.0/24 and
203.0.113.0/24) become network namespaces on one bridge, built with tests/baremetal/lab.py's ``Lab``: two
machines in every range a node role is given (one for a single address), the control-plane VIP on the first
control-plane node of its cluster, one namespace per peer address (admin machine, Jenkins, vCenter, Prism
Central, Snow devices, API load balancer) and one for the client ranges.

Security groups, NSX and Flow filter outside the machine, at its virtual NIC, and statefully. The lab stands in
for them in the bridge's own namespace: bridged IPv4 goes through the netfilter forward hook
(``nf_call_iptables`` on the bridge), where ``simulated_firewall`` loads one nftables table generated from the
flows and the platform's own declaration of what its objects decide (``<platform>/visibility.py``):

- replies pass (``ct state established,related``): a RST or an ICMP port unreachable comes back;
- a machine whose incoming connections the platform decides (``Visibility.inbound``, or the VIP it holds through
  ``judged_at``) admits exactly the required accesses into it, and silently drops the rest;
- a machine whose outgoing connections the platform decides (``Visibility.outbound``: security groups) lets out
  exactly the required accesses from it, and silently drops the rest;
- ``match_destination``: NSX rules name destination groups (the VIP is one), so a rule matches the destination
  address; a security group or a Flow policy admits by source and port into the machine, whatever its address.

This exercises ``probe`` end to end against each platform's enforcement model; it does not re-implement AWS,
NSX or Flow (rule limits, priorities, categories and the objects themselves are verify's and the contract
tests' business).
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from components.addresses import Network
from components.endpoints import CLIENT_RANGES, CONTROL_PLANE, CONTROL_PLANE_VIP, ETCD, MANAGEMENT_CLUSTER, WORKER
from components.flows import Access, FlowSet, endpoint_addresses
from components.topology import Topology
from components.visibility import Visibility, required_accesses
from tests.baremetal.lab import LAB_NETS, Host, Lab, LabError, run

NODE_ENDPOINTS = (CONTROL_PLANE, ETCD, WORKER)
MACHINES_PER_RANGE = 2
SHORT = {CONTROL_PLANE: "cp", ETCD: "etcd", WORKER: "w"}
TABLE = "efw_sim"


@dataclass(frozen=True)
class Machine:
    """A lab host and what it stands for: (cluster or None, endpoint) pairs."""

    host: Host
    endpoints: tuple[tuple[str | None, str], ...]

    @property
    def address(self) -> str:
        return str(self.host.addresses[0].network_address)


def _hosts_in(net: Network, taken: set[Network], count: int) -> list[Network]:
    if net.num_addresses == 1:
        return [net]
    out: list[Network] = []
    for ip in itertools.islice(net.hosts(), 64):
        candidate = ipaddress.ip_network(ip)
        if candidate not in taken:
            out.append(candidate)
        if len(out) == count:
            break
    return out


def build_machines(topology: Topology, flows: FlowSet) -> list[Machine]:
    """The lab's machines for a lab stack (see the module doc); names are short enough for interface names."""
    # Node machines are picked around the VIPs and load balancers (they get machines of their own, or ride on one).
    taken: set[Network] = {c.endpoint for c in topology.clusters}
    taken |= {c.api_load_balancer.address for c in topology.clusters if c.api_load_balancer is not None}
    machines: list[Machine] = []
    for c in topology.clusters:
        vip_placed = False
        for endpoint in NODE_ENDPOINTS:
            if endpoint == ETCD and c.external_etcd is None:
                continue
            n = 0
            for net in endpoint_addresses(topology, c, endpoint):
                for addr in _hosts_in(net, taken, MACHINES_PER_RANGE):
                    n += 1
                    taken.add(addr)
                    addresses = [addr]
                    if endpoint == CONTROL_PLANE and not vip_placed:  # kube-vip holds the VIP on one node
                        addresses.append(c.endpoint)
                        vip_placed = True
                    host = Host(name=f"{c.name[:4]}{SHORT[endpoint]}{n}", role=endpoint, addresses=addresses)
                    machines.append(Machine(host=host, endpoints=((c.name, endpoint),)))
    # Peers with addresses of their own: one machine per address, named after the endpoint.
    taken -= {c.api_load_balancer.address for c in topology.clusters if c.api_load_balancer is not None}
    peers: dict[Network, list[tuple[str | None, str]]] = {}
    for f in flows.flows:
        for endpoint in (f.source, f.destination):
            if endpoint in (*NODE_ENDPOINTS, MANAGEMENT_CLUSTER, CONTROL_PLANE_VIP, *CLIENT_RANGES):
                continue
            for net in endpoint_addresses(topology, topology.cluster(f.cluster), endpoint):
                if net.num_addresses == 1 and net not in taken:
                    peers.setdefault(net, [])
                    if (None, endpoint) not in peers[net]:
                        peers[net].append((None, endpoint))
    for i, (net, endpoints) in enumerate(sorted(peers.items(), key=lambda kv: kv[0]), start=1):
        name = f"p{i}-{endpoints[0][1]}"[:12]
        machines.append(Machine(host=Host(name=name, role=endpoints[0][1], addresses=[net]), endpoints=tuple(endpoints)))
        taken.add(net)
    # One machine for the clients: an address inside every client range that is not a machine's.
    client_addresses: list[Network] = []
    client_endpoints: list[tuple[str | None, str]] = []
    for endpoint in CLIENT_RANGES:
        nets = endpoint_addresses(topology, topology.clusters[0], endpoint)
        for net in nets:
            if any(a.subnet_of(net) for a in client_addresses) or net in taken:  # type: ignore[arg-type]
                continue  # a client already there, or a machine of its own (the admin machine as bastion)
            picked = _hosts_in(net, taken, 1)
            if picked:
                client_addresses.append(picked[0])
                taken.add(picked[0])
        if nets:
            client_endpoints.append((None, endpoint))
    if client_addresses:
        machines.append(Machine(host=Host(name="clients", role="clients", addresses=client_addresses), endpoints=tuple(client_endpoints)))
    for m in machines:
        for a in m.host.addresses:
            if not any(a.version == n.version and a.subnet_of(n) for n in LAB_NETS):  # type: ignore[arg-type]
                raise LabError(f"{m.host.name}: {a} is outside the lab ranges: the lab stack must use 198.51.100.0/24 and 203.0.113.0/24")
    return machines


def machine_for(machines: Sequence[Machine], cluster: str | None, endpoint: str) -> Machine:
    """The first machine that stands for ``endpoint`` (of ``cluster``; None: a peer)."""
    for m in machines:
        if (cluster, endpoint) in m.endpoints:
            return m
    raise KeyError((cluster, endpoint))


def _match(protocol: str, lo: int, hi: int) -> str:
    ports = str(lo) if lo == hi else f"{lo}-{hi}"
    if protocol == "icmp":
        return f"icmp type {ports}"
    return f"{protocol} dport {ports}"


def simulated_firewall(
    topology: Topology,
    flows: FlowSet,
    visibility: Visibility,
    machines: Sequence[Machine],
    *,
    match_destination: bool,
    withhold: Iterable[tuple[str, str, str, int]] = (),
) -> str:
    """The nftables file the lab's bridge namespace loads (module doc). ``withhold``: (host name, "in"|"out",
    protocol, port) whose rules are left out, to play a firewall that lacks one rule."""
    owed = required_accesses(topology, flows, visibility)
    left_out = set(withhold)
    inbound = {e for e in visibility.inbound} | {e for e, judge in visibility.judged_at.items() if judge in visibility.inbound}
    lines = [f"table inet {TABLE} {{}}", f"delete table inet {TABLE}", f"table inet {TABLE} {{"]
    jumps: list[str] = []
    chains: list[str] = []
    for m in machines:
        own = [a for a in m.host.addresses]
        ends = {e for _, e in m.endpoints}
        if m.host.role == CONTROL_PLANE and len(own) > 1:
            ends.add(CONTROL_PLANE_VIP)
        addresses = ", ".join(str(a.network_address) for a in own)
        if ends & visibility.outbound:
            rules = _rules(owed, own, "out", m, left_out, match_destination=True)
            chains.append(f"\tchain out_{_id(m)} {{\n{rules}\t\tdrop\n\t}}")
            jumps.append(f"\t\tip saddr {{ {addresses} }} jump out_{_id(m)}")
        if ends & inbound:
            rules = _rules(owed, own, "in", m, left_out, match_destination=match_destination)
            chains.append(f"\tchain in_{_id(m)} {{\n{rules}\t\tdrop\n\t}}")
            jumps.append(f"\t\tip daddr {{ {addresses} }} jump in_{_id(m)}")
    lines.append("\tchain forward {")
    lines.append("\t\ttype filter hook forward priority filter; policy accept;")
    lines.append("\t\tct state established,related accept")
    lines.append("\t\tct state invalid drop")
    lines += [j for j in jumps if " jump out_" in j] + [j for j in jumps if " jump in_" in j]
    lines.append("\t}")
    lines += chains
    lines.append("}")
    return "\n".join(lines) + "\n"


def _id(m: Machine) -> str:
    return m.host.name.replace("-", "_")


def _rules(
    owed: frozenset[Access],
    own: list[Network],
    direction: str,
    m: Machine,
    left_out: set[tuple[str, str, str, int]],
    *,
    match_destination: bool,
) -> str:
    out: list[str] = []
    verdict = "return" if direction == "out" else "accept"
    for a in sorted(owed):
        mine = a.source if direction == "out" else a.destination
        if not any(x.version == mine.version and x.subnet_of(mine) for x in own):  # type: ignore[arg-type]
            continue
        if any((m.host.name, direction, a.protocol, p) in left_out for p in (a.ports.lo, a.ports.hi)):
            continue
        if a.source.version != 4 or a.destination.version != 4:
            continue  # the lab is IPv4
        if direction == "out":
            match = f"ip daddr {a.destination}"
        else:
            match = f"ip saddr {a.source}" + (f" ip daddr {a.destination}" if match_destination else "")
        out.append(f"\t\t{match} {_match(a.protocol, a.ports.lo, a.ports.hi)} {verdict}\n")
    return "".join(out)


def load_simulated_firewall(lab: Lab, text: str) -> None:
    """Bridged IPv4 through the forward hook of the bridge's namespace, then the table (one transaction)."""
    run("ip", "-n", lab.switch, "link", "set", "br0", "type", "bridge", "nf_call_iptables", "1")
    run("ip", "netns", "exec", lab.switch, "nft", "-f", "-", stdin=text)
