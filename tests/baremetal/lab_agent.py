"""Runs inside a lab network namespace (``ip netns exec NS python -m tests.baremetal.lab_agent ...``).

listen   TCP and UDP echo servers on the given ports (all addresses of the namespace); every datagram is
         logged as a JSON line (source, port, payload) so that deliveries without a reply address (a DHCP
         broadcast from 0.0.0.0) can be checked. Prints "ready" once every socket is bound; exits after
         --lifetime seconds at the latest.
probe    reads a JSON list of probes on stdin, runs them in parallel with the probe command's own
         primitives, prints the results as JSON.
dhcp     sends one DHCPDISCOVER-shaped frame from 0.0.0.0:68 to 255.255.255.255:67 on eth0 (raw
         AF_PACKET: the namespace has no IPv4 address, like a machine that is network booting).
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from components.probe import probe_icmp, probe_tcp, probe_udp

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux's value; Python < 3.12 does not name it


def listen(tcp_ports: list[int], udp_ports: list[int], log_path: str, lifetime: float) -> None:
    sel = selectors.DefaultSelector()
    for port in tcp_ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(64)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "tcp")
    for port in udp_ports:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        u.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)  # to answer from the address that was asked
        u.bind(("0.0.0.0", port))
        u.setblocking(False)
        sel.register(u, selectors.EVENT_READ, "udp")
    print("ready", flush=True)
    end = time.monotonic() + lifetime
    with open(log_path, "a", encoding="utf-8") as log:
        while (left := end - time.monotonic()) > 0:
            for key, _ in sel.select(timeout=min(left, 1.0)):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                if key.data == "tcp":
                    try:
                        conn, _ = sock.accept()
                    except BlockingIOError:
                        continue
                    with conn:
                        conn.settimeout(0.5)
                        try:
                            data = conn.recv(1024)
                            if data:
                                conn.sendall(data)
                        except OSError:
                            pass
                else:
                    try:
                        data, ancillary, _flags, peer = sock.recvmsg(2048, socket.CMSG_SPACE(12))
                    except BlockingIOError:
                        continue
                    # struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
                    info = next((d for lvl, typ, d in ancillary if lvl == socket.IPPROTO_IP and typ == IP_PKTINFO), bytes(12))
                    _ifindex, _spec, to = struct.unpack("I4s4s", info[:12])
                    port = sock.getsockname()[1]
                    entry = {"source": peer[0], "destination": socket.inet_ntoa(to), "port": port, "payload": data.decode("latin-1")}
                    log.write(json.dumps(entry) + "\n")
                    log.flush()
                    if peer[0] != "0.0.0.0" and entry["destination"] != "255.255.255.255":
                        reply_from = struct.pack("I4s4s", 0, to, bytes(4))
                        sock.sendmsg([data], [(socket.IPPROTO_IP, IP_PKTINFO, reply_from)], 0, peer)


def probe(items: list[dict[str, Any]], parallel: int) -> list[dict[str, Any]]:
    def one(p: dict[str, Any]) -> dict[str, Any]:
        proto, dst, port, src, timeout = p["protocol"], p["destination"], p["port"], p.get("source"), p["timeout"]
        if proto == "tcp":
            outcome = probe_tcp(dst, port, timeout, src)
        elif proto == "udp":
            outcome = probe_udp(dst, port, timeout, src)
        else:
            outcome = probe_icmp(dst, port, timeout, src)
        return {**p, "status": outcome.detail, "ok": outcome.ok}

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, items))


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def dhcp(interface: str, token: str) -> None:
    payload = token.encode()
    udp = struct.pack("!HHHH", 68, 67, 8 + len(payload), 0) + payload  # UDP checksum 0: not computed (IPv4 allows it)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes(4), b"\xff" * 4)
    ip = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((interface, 0))
        mac = s.getsockname()[4]
        s.send(b"\xff" * 6 + mac + b"\x08\x00" + ip + udp)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    li = sub.add_parser("listen")
    li.add_argument("--tcp", default="")
    li.add_argument("--udp", default="")
    li.add_argument("--log", required=True)
    li.add_argument("--lifetime", type=float, default=600)
    pr = sub.add_parser("probe")
    pr.add_argument("--parallel", type=int, default=32)
    dh = sub.add_parser("dhcp")
    dh.add_argument("--interface", default="eth0")
    dh.add_argument("--token", required=True)
    args = p.parse_args(argv)
    if args.cmd == "listen":
        ports = [[int(x) for x in text.split(",") if x] for text in (args.tcp, args.udp)]
        listen(ports[0], ports[1], args.log, args.lifetime)
    elif args.cmd == "probe":
        print(json.dumps(probe(json.load(sys.stdin), args.parallel)))
    else:
        dhcp(args.interface, args.token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
