"""``eksa-firewall probe``: from this machine, can a role reach what its flows say it must, on every platform?

What is probed comes from the flows alone (``flows.build_flows``): the flows ``role`` originates in the chosen
clusters (a node of a managing cluster also originates the ``management-cluster`` flows of the clusters it
manages), each destination address at both ends of every port range. A destination given as a range (a DHCP
range, an IP pool) stands for machines this command cannot name: it is listed as not probed unless
``--target ENDPOINT=ADDRESS`` names machines inside it. A new catalog row or add-on is probed without code here.

Verdicts, per check (``Outcome``):

- ``reachable``: TCP ``open``, or ``refused`` (a RST: every firewall on the way let the SYN through and nothing
  listens); UDP ``answered``, or ``refused`` (an ICMP port unreachable came back: the datagram reached the
  machine); ICMP ``echo reply``.
- ``blocked``: TCP or ICMP silence until the timeout, or an ICMP unreachable other than "port" (a firewall's
  reject, no route on the way); UDP silence on a port whose service answers a request the platform's
  ``probe.py`` knows (``UDP_REQUESTS``: TFTP, IPMI/RMCP on bare metal).
- ``unverified``: UDP silence on a port whose service never answers a stray datagram (DHCP, syslog, GENEVE,
  memberlist...): "sent, no answer expected" proves nothing either way; an ICMP type other than echo, or no
  permission to open an ICMP socket. Neither passes nor fails, except with ``strict``.
- ``skipped``: the destination is this machine itself (its own address, or a VIP it holds right now).
- ``no-route``, ``deadline``, ``error``: no route from this machine, not probed before the run's deadline, a
  socket error: failures.

Exit status of the command: 0 when nothing failed, 1 when a check failed, 2 on a usage or configuration error.
The report (``report``) is the JSON contract ``eksa-firewall/probe/v1`` (docs/cli.md).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import select
import socket
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from .addresses import Network, canonical_networks
from .catalog import Catalog, Row, load_catalog
from .endpoints import CONTROL_PLANE, DHCP_CLIENTS, MANAGEMENT_CLUSTER, PODS_ON_NODE, WORKER
from .errors import EksaFirewallError
from .flows import Flow, FlowSet, endpoint_addresses, row_ports
from .ports import PortSet, contains
from .topology import Topology

SCHEMA = "eksa-firewall/probe/v1"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REACHABLE, BLOCKED, UNVERIFIED, SKIPPED = "reachable", "blocked", "unverified", "skipped"
NO_ROUTE, DEADLINE, ERROR = "no-route", "deadline", "error"
VERDICTS = (REACHABLE, BLOCKED, NO_ROUTE, DEADLINE, ERROR, UNVERIFIED, SKIPPED)
FAILURES = (BLOCKED, NO_ROUTE, DEADLINE, ERROR)

# A machine without an address, and a node's own pods (their packets come from a pod address on the node, never
# from a machine's own address), cannot be imitated from here.
UNPROBEABLE_SOURCES = (DHCP_CLIENTS, PODS_ON_NODE)
# The roles whose machines are the "management-cluster" of the clusters their cluster manages.
MANAGER_ROLES = (CONTROL_PLANE, WORKER)
SILENT_UDP = b"eksa-firewall probe\n"  # what a UDP check sends where no request is known
# An ICMP error that says a firewall or router refused the packet, not that the machine has no such port.
BLOCKED_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM, errno.ETIMEDOUT}


class ProbeError(EksaFirewallError):
    """A usage problem of ``probe`` (the role, a cluster, a target, the source address): exit 2."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """What one probe found: a verdict (``VERDICTS``) and what was seen, in words."""

    verdict: str
    detail: str

    @property
    def ok(self) -> bool | None:
        """True: reachable; False: a failure; None: neither (unverified, skipped)."""
        if self.verdict == REACHABLE:
            return True
        return False if self.verdict in FAILURES else None


@dataclass(frozen=True, kw_only=True, slots=True)
class Check:
    """One probe to make: a flow's destination address and one port (ICMP: the ICMP type)."""

    flow: Flow
    address: str
    port: int
    rows: tuple[str, ...]  # the flow's catalog rows that ask for this port (all of them when none names it)
    request: bytes | None = None  # UDP: a datagram the service answers (from the platform's UDP_REQUESTS)

    @property
    def sort_key(self) -> tuple[object, ...]:
        ip = ipaddress.ip_address(self.address)
        f = self.flow
        return (f.cluster, f.source, f.destination, ip.version, ip, f.protocol, self.port)


@dataclass(frozen=True, kw_only=True, slots=True)
class Unprobed:
    """A destination range of a flow that no check stands for, and why."""

    flow: Flow
    network: Network
    why: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Selection:
    """What ``select_checks`` chose: the checks, in a fixed order, and the ranges left out."""

    role: str
    clusters: tuple[str, ...]
    checks: tuple[Check, ...]
    unprobed: tuple[Unprobed, ...]
    unused_targets: tuple[str, ...] = ()  # --target values no range of these flows holds


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """``--target [CLUSTER/]ENDPOINT=ADDRESS[,ADDRESS...]``: machines that stand for an endpoint given as a range."""

    text: str
    cluster: str | None
    endpoint: str
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Result:
    check: Check
    outcome: Outcome
    sent_from: str | None  # the address this machine sent from (None: it could not send)


@dataclass(frozen=True, kw_only=True, slots=True)
class Run:
    """A whole probe run: what was chosen, what each check found, what the reader must know."""

    role: str
    clusters: tuple[str, ...]
    results: tuple[Result, ...]
    unprobed: tuple[Unprobed, ...]
    sent_from: tuple[str, ...]
    warnings: tuple[str, ...]

    def failed(self, *, strict: bool = False) -> list[Result]:
        """Failed checks; with ``strict`` also the unverified ones."""
        return [r for r in self.results if r.outcome.ok is False or (strict and r.outcome.verdict == UNVERIFIED)]

    def ok(self, *, strict: bool = False) -> bool:
        return not self.failed(strict=strict) and not (strict and self.unprobed)


# --- what to probe (pure) ------------------------------------------------------------------------------


def parse_target(text: str) -> Target:
    """``[CLUSTER/]ENDPOINT=ADDRESS[,ADDRESS...]`` -> Target (ProbeError naming the mistake)."""
    name, sep, values = text.partition("=")
    cluster, slash, endpoint = name.strip().rpartition("/")
    fix = "write it as ENDPOINT=ADDRESS[,ADDRESS...], e.g. --target worker=10.21.1.7,10.21.1.8 (or mgmt/worker=...)"
    if not sep or not endpoint.strip() or (slash and not cluster.strip()):
        raise ProbeError(f"--target {text}: {fix}")
    addresses: list[IPAddress] = []
    for part in values.split(","):
        try:
            addresses.append(ipaddress.ip_address(part.strip()))
        except ValueError:
            raise ProbeError(f"--target {text}: {part.strip()!r} is not an IP address of one machine; {fix}") from None
    return Target(text=text, cluster=cluster.strip() or None, endpoint=endpoint.strip(), addresses=tuple(dict.fromkeys(addresses)))


def probe_sources(flows: FlowSet) -> list[str]:
    """The roles ``--from`` accepts: every source of a flow that a machine with an address can stand for."""
    return sorted({f.source for f in flows.flows} - set(UNPROBEABLE_SOURCES))


def originated(topology: Topology, flows: FlowSet, role: str, clusters: Sequence[str]) -> list[Flow]:
    """The flows a machine of ``role`` in ``clusters`` opens: its own, and as a node of a managing cluster the
    ``management-cluster`` flows of the clusters it manages (that endpoint is the manager's nodes)."""
    chosen = set(clusters)
    out = [f for f in flows.flows if f.source == role and f.cluster in chosen]
    if role in MANAGER_ROLES:
        managed = {c.name for c in topology.clusters if c.managed_by in chosen}
        out += [f for f in flows.flows if f.source == MANAGEMENT_CLUSTER and f.cluster in managed]
    return out


def _ends(ports: PortSet) -> list[int]:
    """Both ends of every range: a rule that covers a range covers its ends."""
    return sorted({p for r in ports for p in (r.lo, r.hi)})


def _catalog_row(catalog: Catalog, row_id: str) -> Row | None:
    try:
        return catalog[row_id]
    except KeyError:
        return None


def rows_for_port(topology: Topology, flow: Flow, port: int, catalog: Catalog) -> tuple[str, ...]:
    """The flow's rows whose ports (after the topology's options) hold ``port``; all the flow's rows when none
    does (a port a row does not carry itself, such as an API load balancer's own port)."""
    cluster = topology.cluster(flow.cluster)
    own = []
    for row_id in flow.rows:
        row = _catalog_row(catalog, row_id)
        if row is not None and contains(row_ports(row, topology, cluster), port):
            own.append(row_id)
    return tuple(own) or flow.rows


def _within(ip: IPAddress, net: Network) -> bool:
    return ip.version == net.version and ip in net


def _check_targets(topology: Topology, targets: Sequence[Target]) -> None:
    """Every target names a cluster of the stack (if any), an endpoint, and addresses inside that endpoint's ranges."""
    names = [c.name for c in topology.clusters]
    for t in targets:
        if t.cluster is not None and t.cluster not in names:
            raise ProbeError(f"--target {t.text}: no cluster {t.cluster!r} in this stack ({', '.join(names)})")
        clusters = [topology.cluster(t.cluster)] if t.cluster is not None else list(topology.clusters)
        try:
            ranges = canonical_networks(n for c in clusters for n in endpoint_addresses(topology, c, t.endpoint))
        except KeyError:
            raise ProbeError(
                f"--target {t.text}: {t.endpoint!r} is not an endpoint; use a destination the report names, "
                "e.g. control-plane, etcd, worker"
            ) from None
        for ip in t.addresses:
            if not any(_within(ip, n) for n in ranges):
                inside = ", ".join(map(str, ranges)) or "no address in this stack"
                raise ProbeError(
                    f"--target {t.text}: {ip} is not inside {t.endpoint} ({inside}); "
                    "name machines of that endpoint (kubectl get nodes -o wide lists the nodes' addresses)"
                )


def select_checks(
    topology: Topology,
    flows: FlowSet,
    role: str,
    clusters: Sequence[str],
    *,
    targets: Sequence[Target] = (),
    udp_requests: Mapping[str, bytes] | None = None,
    catalog: Catalog | None = None,
) -> Selection:
    """The checks for a machine of ``role`` in ``clusters`` (pure). ProbeError when ``role`` opens no flow there
    or a target does not fit the stack; targets no range of these flows holds are listed as unused."""
    sources = probe_sources(flows)
    if role not in sources:
        raise ProbeError(f"--from {role}: no required flow starts there; choose one of {', '.join(sources)}")
    chosen = originated(topology, flows, role, clusters)
    if not chosen:
        raise ProbeError(f"--from {role}: no required flow of cluster {', '.join(clusters)} starts there; choose another --cluster")
    _check_targets(topology, targets)
    catalog = catalog or load_catalog()
    requests = udp_requests or {}
    checks: list[Check] = []
    unprobed: list[Unprobed] = []
    used: set[str] = set()
    for f in chosen:
        for net in endpoint_addresses(topology, topology.cluster(f.cluster), f.destination):
            if net.num_addresses == 1:
                addresses = [str(net.network_address)]
            else:
                inside = [
                    (t, ip)
                    for t in targets
                    if t.endpoint == f.destination and t.cluster in (None, f.cluster)
                    for ip in t.addresses
                    if _within(ip, net)
                ]
                used.update(t.text for t, _ in inside)
                addresses = [str(ip) for _, ip in inside]
                if not addresses:
                    why = f"a range: name its machines with --target {f.cluster}/{f.destination}=ADDRESS[,ADDRESS...]"
                    unprobed.append(Unprobed(flow=f, network=net, why=why))
                    continue
            for port in _ends(f.ports):
                rows = rows_for_port(topology, f, port, catalog)
                request = next((requests[r] for r in rows if r in requests), None) if f.protocol == "udp" else None
                checks.extend(Check(flow=f, address=a, port=port, rows=rows, request=request) for a in dict.fromkeys(addresses))
    checks.sort(key=lambda c: c.sort_key)
    unused = tuple(t.text for t in targets if t.text not in used)
    return Selection(role=role, clusters=tuple(clusters), checks=tuple(checks), unprobed=tuple(unprobed), unused_targets=unused)


# --- the probes (sockets) ------------------------------------------------------------------------------


def _socket(address: str, kind: int, proto: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    return socket.socket(family, kind, proto)


def _bind(sock: socket.socket, source: str | None) -> None:
    if source is not None:
        sock.bind((source, 0))


def _refused_or_blocked(exc: OSError) -> Outcome:
    """A refusal proves the packet reached the machine; an ICMP "prohibited" or unreachable does not."""
    if isinstance(exc, ConnectionRefusedError):
        return Outcome(verdict=REACHABLE, detail="refused: reachable, nothing listening")
    if exc.errno in BLOCKED_ERRNOS:
        return Outcome(verdict=BLOCKED, detail=f"blocked ({os.strerror(exc.errno or 0)})")
    return Outcome(verdict=ERROR, detail=f"error ({exc})")


def probe_tcp(address: str, port: int, timeout: float, source: str | None = None) -> Outcome:
    """A TCP connect: ``open``; ``refused`` (RST) is reachable too; silence is blocked."""
    with _socket(address, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        _bind(s, source)
        try:
            s.connect((address, port))
        except TimeoutError:
            return Outcome(verdict=BLOCKED, detail="blocked (no answer within the timeout)")
        except OSError as exc:
            return _refused_or_blocked(exc)
        return Outcome(verdict=REACHABLE, detail="open")


def probe_udp(address: str, port: int, timeout: float, source: str | None = None, request: bytes | None = None) -> Outcome:
    """One datagram (``request``, or a stray one), then wait for an answer or an ICMP error.

    An answer or an ICMP port unreachable (``refused``) is reachable. Silence is blocked when ``request`` is one
    the service answers, and unverified otherwise: most UDP services never answer a stray datagram."""
    with _socket(address, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        _bind(s, source)
        try:
            s.connect((address, port))
            s.send(request or SILENT_UDP)
            s.recv(2048)
        except TimeoutError:
            if request is None:
                return Outcome(verdict=UNVERIFIED, detail="sent, no answer expected")
            return Outcome(verdict=BLOCKED, detail="no answer (blocked, or the service is down)")
        except OSError as exc:
            return _refused_or_blocked(exc)
        return Outcome(verdict=REACHABLE, detail="answered")


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def probe_icmp(address: str, icmp_type: int, timeout: float, source: str | None = None) -> Outcome:
    """An echo request (type 8; ICMPv6 128); other ICMP types are not probed."""
    if icmp_type not in (8, 128):
        return Outcome(verdict=UNVERIFIED, detail=f"not probed (ICMP type {icmp_type})")
    v6 = ipaddress.ip_address(address).version == 6
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    request, reply = (128, 129) if v6 else (8, 0)
    ident, seq = os.getpid() & 0xFFFF, int(time.monotonic_ns() & 0xFFFF)
    payload = b"eksa-firewall"
    sock: socket.socket | None = None
    for kind in (socket.SOCK_RAW, socket.SOCK_DGRAM):  # raw needs CAP_NET_RAW; DGRAM needs ping_group_range
        try:
            sock = _socket(address, kind, proto)
            break
        except PermissionError:
            continue
    if sock is None:
        return Outcome(verdict=UNVERIFIED, detail="not probed (no permission for ICMP sockets: run as root)")
    with sock:
        _bind(sock, source)
        header = struct.pack("!BBHHH", request, 0, 0, ident, seq)
        checksum = 0 if v6 else _checksum(header + payload)  # the kernel fills in ICMPv6 checksums
        sock.sendto(struct.pack("!BBHHH", request, 0, checksum, ident, seq) + payload, (address, 0))
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                break
            data, peer = sock.recvfrom(2048)
            if peer[0] != address:
                continue
            if sock.type == socket.SOCK_RAW and not v6:
                data = data[(data[0] & 0x0F) * 4 :]  # skip the IPv4 header
            if len(data) >= 8:
                rtype, _, _, rid, rseq = struct.unpack("!BBHHH", data[:8])
                # DGRAM ICMP sockets rewrite the identifier: match on the sequence number then.
                if rtype == reply and rseq == seq and (sock.type != socket.SOCK_RAW or rid == ident):
                    return Outcome(verdict=REACHABLE, detail="echo reply")
        return Outcome(verdict=BLOCKED, detail="blocked (no echo reply within the timeout)")


def probe_check(check: Check, timeout: float, source: str | None = None) -> Outcome:
    """One check, by its flow's protocol; a failure to bind or send is an outcome, not a crash."""
    try:
        if check.flow.protocol == "tcp":
            return probe_tcp(check.address, check.port, timeout, source)
        if check.flow.protocol == "udp":
            return probe_udp(check.address, check.port, timeout, source, check.request)
        return probe_icmp(check.address, check.port, timeout, source)
    except OSError as exc:  # binding or sending failed (no route, address gone)
        return Outcome(verdict=ERROR, detail=f"error ({os.strerror(exc.errno) if exc.errno else exc})")


Prober = Callable[[Check, float, str | None], Outcome]


def run_probes(
    checks: Sequence[Check], *, timeout: float, deadline: float, parallel: int, source: str | None = None, prober: Prober = probe_check
) -> list[Outcome]:
    """Probe everything in parallel; whatever is not done by the deadline is reported as ``deadline``."""
    end = time.monotonic() + deadline
    outcomes: dict[int, Outcome] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, parallel))
    try:
        futures: dict[Future[Outcome], int] = {pool.submit(prober, c, timeout, source): i for i, c in enumerate(checks)}
        pending = set(futures)
        while pending and (left := end - time.monotonic()) > 0:
            done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            for fut in done:
                outcomes[futures[fut]] = fut.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    late = Outcome(verdict=DEADLINE, detail="not probed before the deadline")
    return [outcomes.get(i, late) for i in range(len(checks))]


def route_source(address: str, source: str | None = None) -> str | None:
    """The address this machine sends from toward ``address`` (None: no route); no packet is sent."""
    try:
        with _socket(address, socket.SOCK_DGRAM) as s:
            _bind(s, source)
            s.connect((address, 9))
            return str(s.getsockname()[0])
    except OSError:
        return None


def local_source(text: str) -> str:
    """``--source``: an IP address this machine has (binding to it is what every probe does first)."""
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        raise ProbeError(f"--source {text}: not an IP address; give one of this machine's addresses") from None
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((str(ip), 0))
    except OSError as exc:
        why = "not an address of this machine" if exc.errno == errno.EADDRNOTAVAIL else os.strerror(exc.errno or 0) or str(exc)
        raise ProbeError(f"--source {text}: {why}; give one of this machine's addresses (ip -brief address), or leave it out") from None
    return str(ip)


# --- a run: choose, look up routes, probe --------------------------------------------------------------


def _role_networks(topology: Topology, role: str, clusters: Sequence[str]) -> list[Network]:
    out: list[Network] = []
    for name in clusters:
        try:
            out += endpoint_addresses(topology, topology.cluster(name), role)
        except KeyError:  # a source word endpoint_addresses does not resolve: nothing to compare with
            continue
    return out


def run(
    topology: Topology,
    flows: FlowSet,
    role: str,
    *,
    cluster: str | None = None,
    source: str | None = None,
    targets: Sequence[Target] = (),
    udp_requests: Mapping[str, bytes] | None = None,
    timeout: float = 2.0,
    deadline: float = 60.0,
    parallel: int = 16,
    route: Callable[[str, str | None], str | None] = route_source,
    prober: Prober = probe_check,
) -> Run:
    """Choose the checks, find this machine's addresses and routes, probe. ``route`` and ``prober`` stand for the
    network (tests give their own).

    Without ``cluster``, the clusters are those where ``role``'s addresses hold an address this machine sends
    from (a node belongs to one cluster); when none does, every cluster, with a warning."""
    names = [c.name for c in topology.clusters]
    if cluster is not None and cluster not in names:
        raise ProbeError(f"--cluster {cluster}: no such cluster in this stack ({', '.join(names)})")
    candidates = [cluster] if cluster is not None else names
    every = select_checks(topology, flows, role, candidates, targets=targets, udp_requests=udp_requests)
    addresses = sorted({c.address for c in every.checks})
    routes = {a: route(a, source) for a in addresses}
    itself = {a for a in addresses if route(a, None) == a}  # this machine's own addresses (a VIP it holds too)
    sent_from = sorted({s for a, s in routes.items() if s is not None and a not in itself} | ({source} if source else set()))
    sent_ips = [ipaddress.ip_address(a) for a in sent_from]
    mine = [n for n in candidates if any(_within(ip, net) for ip in sent_ips for net in _role_networks(topology, role, [n]))]
    selection = every
    if cluster is None and mine and mine != candidates:
        selection = select_checks(topology, flows, role, mine, targets=targets, udp_requests=udp_requests)
    warnings: list[str] = []
    role_nets = _role_networks(topology, role, selection.clusters)
    for a, ip in zip(sent_from, sent_ips, strict=True):
        if not any(_within(ip, n) for n in role_nets):
            warnings.append(f"this machine sends from {a}, which is not an address of {role}: the results say what {a} may reach")
    for text in selection.unused_targets:
        warnings.append(f"--target {text}: not used: no range these checks go to holds its addresses")
    unroutable = sorted({c.address for c in selection.checks if routes[c.address] is None and c.address not in itself})
    if unroutable:
        warnings.append(f"no route from this machine to {len(unroutable)} destination address(es): check its routes")
    verdicts: list[Outcome | None] = []
    for c in selection.checks:
        if c.address in itself:
            verdicts.append(Outcome(verdict=SKIPPED, detail="skipped: this machine itself"))
        elif routes[c.address] is None:
            verdicts.append(Outcome(verdict=NO_ROUTE, detail="no route from this machine"))
        else:
            verdicts.append(None)  # to probe
    to_probe = [c for c, v in zip(selection.checks, verdicts, strict=True) if v is None]
    probed = iter(run_probes(to_probe, timeout=timeout, deadline=deadline, parallel=parallel, source=source, prober=prober))
    results = tuple(
        Result(check=c, outcome=v if v is not None else next(probed), sent_from=routes[c.address])
        for c, v in zip(selection.checks, verdicts, strict=True)
    )
    return Run(
        role=role,
        clusters=selection.clusters,
        results=results,
        unprobed=selection.unprobed,
        sent_from=tuple(sent_from),
        warnings=tuple(warnings),
    )


# --- the report ------------------------------------------------------------------------------------------


def summary(run_: Run) -> dict[str, int]:
    counts = {v: 0 for v in VERDICTS}
    for r in run_.results:
        counts[r.outcome.verdict] += 1
    return {**{v.replace("-", "_"): n for v, n in counts.items()}, "not_probed": len(run_.unprobed)}


def report(run_: Run, *, stack: str, platform: str, strict: bool = False, caveats: Sequence[str] = ()) -> dict[str, object]:
    """The ``eksa-firewall/probe/v1`` document (docs/cli.md)."""
    return {
        "schema": SCHEMA,
        "stack": stack,
        "platform": platform,
        "role": run_.role,
        "clusters": list(run_.clusters),
        "sent_from": list(run_.sent_from),
        "strict": strict,
        "ok": run_.ok(strict=strict),
        "summary": summary(run_),
        "warnings": [*run_.warnings, *caveats],
        "checks": [
            {
                "cluster": r.check.flow.cluster,
                "source": r.check.flow.source,
                "source_address": r.sent_from,
                "destination": r.check.flow.destination,
                "destination_address": r.check.address,
                "protocol": r.check.flow.protocol,
                "port": r.check.port,
                "verdict": r.outcome.verdict,
                "ok": r.outcome.ok,
                "detail": r.outcome.detail,
                "rows": list(r.check.rows),
                "flow": r.check.flow.to_json(),
            }
            for r in run_.results
        ],
        "not_probed": [
            {
                "cluster": u.flow.cluster,
                "source": u.flow.source,
                "destination": u.flow.destination,
                "network": str(u.network),
                "protocol": u.flow.protocol,
                "ports": u.flow.ports_text,
                "rows": list(u.flow.rows),
                "why": u.why,
            }
            for u in run_.unprobed
        ],
    }
