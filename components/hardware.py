"""The EKS Anywhere bare-metal hardware CSV: the machines' addresses, BMC addresses and labels.

Only ``hostname``, ``ip_address``, ``bmc_ip`` and ``labels`` are kept. The BMC credentials columns
(``bmc_username``, ``bmc_password``) are dropped as each line is parsed: they never reach the topology,
Pulumi state, logs or plan output.
"""

from __future__ import annotations

import csv
import io
from typing import NamedTuple

from .addresses import AddressError, Network, parse_network
from .reader import Reader, key_join

REQUIRED_COLUMNS = ("hostname", "ip_address", "labels")
SECRET_COLUMNS = frozenset({"bmc_username", "bmc_password"})


class Machine(NamedTuple):
    """One machine of the hardware CSV: what eksa-firewall reads of it (never its BMC credentials)."""

    hostname: str
    address: Network
    bmc: Network | None
    labels: tuple[tuple[str, str], ...]

    def matches(self, selector: dict[str, str]) -> bool:
        """EKS-A's hardwareSelector: every selector label must be present with the same value."""
        mine = dict(self.labels)
        return all(mine.get(k) == v for k, v in selector.items())


def _labels(text: str) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for part in text.split("|"):
        part = part.strip()
        if not part:
            continue
        k, _, v = part.partition("=")
        pairs.append((k.strip(), v.strip()))
    return tuple(sorted(pairs))


def parse_hardware_csv(text: str, key: str, reader: Reader) -> tuple[Machine, ...]:
    """Parse the CSV text; problems are reported against ``key`` (the config key naming the file)."""
    rows = csv.DictReader(io.StringIO(text))
    columns = tuple(rows.fieldnames or ())
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        reader.problem(
            key,
            f"the hardware CSV lacks the column(s) {', '.join(missing)}",
            "use the CSV you give `eksctl anywhere create cluster --hardware-csv` "
            "(header: hostname,bmc_ip,bmc_username,bmc_password,mac,ip_address,netmask,gateway,nameservers,labels,disk)",
        )
        return ()
    machines: list[Machine] = []
    seen: set[str] = set()
    for line_no, raw in enumerate(rows, start=2):
        fields = {k: (v or "").strip() for k, v in raw.items() if k is not None and k not in SECRET_COLUMNS}
        where = key_join(key, f"line {line_no}")
        hostname = fields.get("hostname", "")
        if not hostname:
            reader.problem(where, "has no hostname", "give every machine a hostname")
            continue
        if hostname in seen:
            reader.problem(where, f"hostname {hostname!r} appears twice", "give every machine its own hostname")
            continue
        seen.add(hostname)
        address = _host(fields.get("ip_address", ""), f"{where}.ip_address", reader, required=True)
        bmc = _host(fields.get("bmc_ip", ""), f"{where}.bmc_ip", reader, required=False)
        if address is None:
            continue
        machines.append(Machine(hostname=hostname, address=address, bmc=bmc, labels=_labels(fields.get("labels", ""))))
    return tuple(sorted(machines, key=lambda m: m.hostname))


def _host(text: str, key: str, reader: Reader, *, required: bool) -> Network | None:
    if not text:
        if required:
            reader.problem(key, "is empty", "give the machine its static IP address")
        return None
    try:
        return parse_network(text, single=True)
    except AddressError as exc:
        reader.problem(key, exc.message, exc.fix)
        return None
