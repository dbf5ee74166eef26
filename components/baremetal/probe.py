"""Bare metal's part of ``eksa-firewall probe`` (the command and its checks are components/probe.py).

Two UDP services of a Tinkerbell environment answer a well-formed request, so silence there means blocked
rather than "no answer expected": TFTP (a read request: the server answers with data or an error packet) and
IPMI over LAN (an RMCP presence ping: a BMC answers with a pong). Keyed by the catalog row whose port it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from ..topology import Topology

TFTP_RRQ = b"\x00\x01eksa-firewall-probe\x00octet\x00"
# RMCP (version 6, sequence 255, class ASF) + ASF presence ping (IANA 4542, type 0x80, tag 0, no data).
RMCP_PRESENCE_PING = bytes.fromhex("0600ff06" + "000011be" + "80" + "00" + "00" + "00")
UDP_REQUESTS: MappingProxyType[str, bytes] = MappingProxyType({"bm-tftp": TFTP_RRQ, "bm-rufio-ipmi-udp": RMCP_PRESENCE_PING})


def caveats(topology: Topology, clusters: Sequence[str]) -> tuple[str, ...]:
    """Nothing in a bare-metal stack changes what a check means (docs/platforms/baremetal.md explains the verdicts)."""
    return ()
