"""The EKS Anywhere bare-metal hardware CSV: the machines' addresses, BMC addresses and labels.

Only ``hostname``, ``ip_address``, ``bmc_ip`` and ``labels`` are kept. The BMC credentials columns
(``bmc_username``, ``bmc_password``) are dropped as each line is parsed: they never reach the topology,
Pulumi state, logs or plan output.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
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
    """Parse the CSV text; problems are reported against ``key`` (the config key naming the file), each with the
    line the record starts on in the file (a quoted field may span lines; blank lines are skipped)."""
    rows = csv.reader(io.StringIO(text))
    try:
        machines = _machines(rows, key, reader)
    except csv.Error as exc:  # a field over csv.field_size_limit(), a NUL in older Pythons
        reader.problem(key_join(key, f"line {rows.line_num}"), f"is not CSV the hardware CSV reader accepts ({exc})", _CSV_FIX)
        return ()
    return tuple(sorted(machines, key=lambda m: m.hostname))


_CSV_FIX = (
    "use the CSV you give `eksctl anywhere create cluster --hardware-csv` "
    "(header: hostname,bmc_ip,bmc_username,bmc_password,mac,ip_address,netmask,gateway,nameservers,labels,disk)"
)


def _machines(rows: Iterator[list[str]], key: str, reader: Reader) -> list[Machine]:
    columns = next(rows, [])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if missing or twice:
        what = [f"lacks the column(s) {', '.join(missing)}"] if missing else []
        what += [f"names the column(s) {', '.join(twice)} twice (which one would count?)"] if twice else []
        reader.problem(key, "the hardware CSV " + " and ".join(what), _CSV_FIX)
        return []
    machines: list[Machine] = []
    seen: set[str] = set()
    line_no = 1  # the line the next record starts on, minus one
    for record in rows:
        first, line_no = line_no + 1, rows.line_num  # type: ignore[attr-defined]
        if not record:
            continue  # a blank line
        fields = {c: v.strip() for c, v in zip(columns, record, strict=False) if c not in SECRET_COLUMNS}
        where = key_join(key, f"line {first}")
        hostname = fields.get("hostname", "")
        if not hostname:
            reader.problem(where, "has no hostname", "give every machine a hostname")
            continue
        if hostname in seen:
            reader.problem(where, f"hostname {hostname!r} appears twice", "give every machine its own hostname")
            continue
        seen.add(hostname)
        garbled = [c for c in ("hostname", "labels") if any(unicodedata.category(ch)[0] == "C" for ch in fields.get(c, ""))]
        for column in garbled:  # a NUL or a line break: a garbled file (and no valid host name or Kubernetes label)
            reader.problem(f"{where}.{column}", f"{fields[column]!r} holds a control character", f"write the {column} as plain text")
        address = _host(fields.get("ip_address", ""), f"{where}.ip_address", reader, required=True)
        bmc = _host(fields.get("bmc_ip", ""), f"{where}.bmc_ip", reader, required=False)
        if address is None or garbled:
            continue
        machines.append(Machine(hostname=hostname, address=address, bmc=bmc, labels=_labels(fields.get("labels", ""))))
    return machines


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
