"""The probes behind ``eksa-firewall probe --stack NAME --from ROLE`` (components/cli/probe.py): can this machine
reach every port ROLE must reach?

Run it on a machine of ROLE (an admin machine, a control-plane node, a worker, a client...). For every
required flow from ROLE it probes each destination address (single addresses; a CIDR is listed as not
probed) at the ends of every port range:

- TCP: connect. ``open`` or ``refused`` (a RST: the firewall let the SYN through, nothing listens) pass;
  a timeout or an ICMP unreachable means ``blocked``.
- UDP: a datagram the service understands where it answers (TFTP read request on 69, RMCP presence
  ping on IPMI 623); an answer, or ``refused`` (ICMP port unreachable: the firewall passed it), pass;
  silence on those ports fails. DHCP (67), syslog (514), GENEVE (6081) and other UDP ports never answer
  a stray datagram: they are reported as ``sent, no answer expected`` and neither pass nor fail.
- ICMP echo: a reply passes, silence fails.

Every probe has a timeout (``--timeout``, default 2 s) and the whole run a deadline (``--deadline``,
default 60 s); probes run in parallel (``--parallel``). Exit status: 0 when nothing failed, 1 when a
required port is blocked (or not probed before the deadline), 2 on a usage or configuration error.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import select
import socket
import struct
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from ..flows import FlowSet, endpoint_addresses
from ..ports import PortRange
from ..reader import Network
from ..topology import Topology

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# A machine without an address, and a node's own pods (their packets come from a pod, never from a machine's own
# address), cannot be imitated from here.
UNPROBEABLE_SOURCES = ("dhcp-clients", "pods-on-node")
# UDP services that answer a well-formed request (and the request), by port.
TFTP_RRQ = b"\x00\x01eksa-firewall-probe\x00octet\x00"
RMCP_PRESENCE_PING = bytes.fromhex("0600ff06" + "000011be" + "80" + "00" + "00" + "00")
UDP_REQUESTS = {69: TFTP_RRQ, 623: RMCP_PRESENCE_PING}
SILENT_UDP = b"eksa-firewall probe\n"
BLOCKED_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM, errno.ETIMEDOUT}


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    cluster: str
    destination: str  # the endpoint, e.g. control-plane-vip
    address: str
    protocol: str
    port: int  # ICMP: the ICMP type
    rows: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Result:
    target: Target
    status: str
    ok: bool | None  # None: neither pass nor fail (no answer expected, not probed on purpose)


def _ports(ranges: Sequence[PortRange]) -> list[int]:
    """Both ends of every range: a firewall rule that covers a range covers its ends."""
    return sorted({p for r in ranges for p in (r.lo, r.hi)})


def targets(topology: Topology, flows: FlowSet, role: str, cluster: str | None = None) -> tuple[list[Target], list[str]]:
    """What ``role`` must reach, as probe targets; and notes on what cannot be probed."""
    out: list[Target] = []
    notes: list[str] = []
    for f in flows.flows:
        if f.source != role or (cluster is not None and f.cluster != cluster):
            continue
        for net in endpoint_addresses(topology, topology.cluster(f.cluster), f.destination):
            if net.prefixlen != net.max_prefixlen:
                notes.append(f"{f.destination} {net} ({f.protocol} {f.ports_text}): a range, not probed")
                continue
            for port in _ports(f.ports):
                out.append(
                    Target(
                        cluster=f.cluster,
                        destination=f.destination,
                        address=str(net.network_address),
                        protocol=f.protocol,
                        port=port,
                        rows=f.rows,
                    )
                )
    return out, notes


def _socket(address: str, kind: int, proto: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    return socket.socket(family, kind, proto)


def _bind(sock: socket.socket, source: str | None) -> None:
    if source is not None:
        sock.bind((source, 0))


def probe_tcp(address: str, port: int, timeout: float, source: str | None = None) -> tuple[str, bool]:
    with _socket(address, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        _bind(s, source)
        try:
            s.connect((address, port))
        except TimeoutError:
            return "blocked (no answer within the timeout)", False
        except OSError as exc:
            return _refused_or_blocked(exc)
        return "open", True


def probe_udp(address: str, port: int, timeout: float, source: str | None = None) -> tuple[str, bool | None]:
    request = UDP_REQUESTS.get(port)
    with _socket(address, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        _bind(s, source)
        try:
            s.connect((address, port))
            s.send(request or SILENT_UDP)
            s.recv(2048)
        except TimeoutError:
            if request is None:
                return "sent, no answer expected", None
            return "no answer (blocked, or the service is down)", False
        except OSError as exc:
            return _refused_or_blocked(exc)
        return "answered", True


def _refused_or_blocked(exc: OSError) -> tuple[str, bool]:
    """A refusal proves the firewall let the packet through; an ICMP "prohibited" or unreachable does not."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused: reachable, nothing listening", True
    if exc.errno in BLOCKED_ERRNOS:
        return f"blocked ({os.strerror(exc.errno or 0)})", False
    return f"error ({exc})", False


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def probe_icmp(address: str, icmp_type: int, timeout: float, source: str | None = None) -> tuple[str, bool | None]:
    """An echo request (type 8; ICMPv6 128); other ICMP types are not probed."""
    if icmp_type != 8:
        return f"not probed (ICMP type {icmp_type})", None
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
        return "not probed (no permission for ICMP sockets: run as root)", None
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
                    return "echo reply", True
        return "blocked (no echo reply within the timeout)", False


def probe_one(t: Target, timeout: float, source: str | None = None) -> Result:
    try:
        if t.protocol == "tcp":
            status, ok = probe_tcp(t.address, t.port, timeout, source)
        elif t.protocol == "udp":
            status, ok = probe_udp(t.address, t.port, timeout, source)
        else:
            status, ok = probe_icmp(t.address, t.port, timeout, source)
    except OSError as exc:  # binding or sending failed (no route, address gone): a result, not a crash
        return Result(target=t, status=f"error ({os.strerror(exc.errno) if exc.errno else exc})", ok=False)
    return Result(target=t, status=status, ok=ok)


def run_probes(items: Sequence[Target], *, timeout: float, deadline: float, parallel: int, source: str | None = None) -> list[Result]:
    """Probe everything in parallel; whatever is not done by the deadline is reported as not probed."""
    end = time.monotonic() + deadline
    results: dict[int, Result] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, parallel))
    try:
        futures: dict[Future[Result], int] = {pool.submit(probe_one, t, timeout, source): i for i, t in enumerate(items)}
        pending = set(futures)
        while pending and (left := end - time.monotonic()) > 0:
            done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            for fut in done:
                results[futures[fut]] = fut.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [results.get(i) or Result(target=t, status="not probed before the deadline", ok=False) for i, t in enumerate(items)]


def _local_source(address: str) -> str | None:
    """The address this machine would send from toward ``address`` (no packet is sent)."""
    try:
        with _socket(address, socket.SOCK_DGRAM) as s:
            s.connect((address, 9))
            return str(s.getsockname()[0])
    except OSError:
        return None


def _role_addresses(topology: Topology, flows: FlowSet, role: str, cluster: str | None) -> list[Network]:
    return [
        n
        for c in topology.clusters
        if cluster is None or c.name == cluster
        if any(f.cluster == c.name and f.source == role for f in flows.flows)
        for n in endpoint_addresses(topology, c, role)
    ]
