"""The ports catalog: EKS Anywhere's port table as frozen data, loaded from ``data/ports.toml``.

The TOML file is the single source of truth; this module only parses and checks it. Which rows apply to
an environment is decided by ``flows.row_applies``; what the rows mean for concrete machines is ``flows``' job.

"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from .endpoints import CONTROL_PLANE, ETCD, NODE_LOCAL, NODE_ROLES, PEERS, WORKER
from .errors import CatalogError
from .platform import platform_names
from .ports import PortSet, parse_ports

Protocol = Literal["tcp", "udp", "icmp"]
_PROTOCOLS: dict[str, Protocol] = {"tcp": "tcp", "udp": "udp", "icmp": "icmp"}  # the catalog's text, lower-cased
PLATFORMS = platform_names()

ROLES = NODE_ROLES
# Source words that stand for several roles.
ROLE_SETS = {
    "nodes": (CONTROL_PLANE, WORKER),  # Kubernetes nodes (external etcd machines run no kubelet)
    "machines": (CONTROL_PLANE, ETCD, WORKER),
}
SOURCES = ("self", *ROLES, *ROLE_SETS, *PEERS, *NODE_LOCAL)
DESTINATIONS = (*ROLES, *PEERS)
CONDITIONS = ("always", "cilium", "jenkins", "bmcs", "external-etcd", "never")
# Opt-in add-ons a cluster lists in `addons` (docs/configuration.md): a row with `addon` applies only to the
# clusters that list it. Names follow EKS-A's curated packages where there is one (metrics-server, metallb,
# prometheus); `-bgp` names the BGP mode, which also needs the cluster's `routers`.
ADDONS = ("metrics-server", "metallb", "metallb-bgp", "prometheus", "hubble-relay", "kube-vip-bgp")
PORT_OPTIONS = ("api-server", "etcd", "etcd-client", "etcd-peer", "prism-central")

# EKS Anywhere releases this catalog knows. The bare-metal rows change with the release (see rows with
# `since`/`until`); a release newer than the last one here may have changed them again.
LATEST_KNOWN_EKSA_VERSION = (0, 26)
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")

Version = tuple[int, int]


def parse_version(text: str) -> Version:
    """``v0.22.1`` -> ``(0, 22)``; raises ValueError on anything else."""
    m = _VERSION_RE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not an EKS Anywhere version like v0.25 or 0.24.3")
    return int(m.group(1)), int(m.group(2))


def format_version(version: Version) -> str:
    return f"v{version[0]}.{version[1]}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Row:
    """One row of the catalog. The first block of fields is the page's text, verbatim; ``ports`` is its meaning."""

    id: str
    section: str
    table: str
    origin: Literal["page", "upstream"]
    protocol_text: str
    direction: str
    ports_text: str
    purpose: str
    used_by: str

    protocol: Protocol  # protocol_text parsed
    ports: PortSet  # ports_text parsed (ICMP rows: ICMP types); topology options may override them
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    platforms: tuple[str, ...]
    when: str
    port_option: str | None = None
    since: Version | None = None
    until: Version | None = None
    sensitive: bool = False
    citation: str | None = None
    superseded_by: str | None = None
    addon: str | None = None  # the add-on (ADDONS) a cluster must list for the row to apply to it

    @property
    def local_only(self) -> bool:
        """Only the node itself uses this port: no network rule is needed."""
        return self.sources == ("self",)

    @property
    def page_line(self) -> str:
        """The row as it reads on the page."""
        return f"{self.protocol_text} {self.direction} {self.ports_text} {self.purpose} {self.used_by}"

    def for_platform(self, platform: str) -> bool:
        return "any" in self.platforms or platform in self.platforms

    def for_version(self, version: Version) -> bool:
        return (self.since is None or version >= self.since) and (self.until is None or version < self.until)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every row, in the file's order, with lookup by row id."""

    rows: tuple[Row, ...]
    _by_id: dict[str, Row] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {r.id: r for r in self.rows})

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, row_id: str) -> Row:
        return self._by_id[row_id]

    def addons_reaching(self, destination: str) -> tuple[str, ...]:
        """The add-ons with a row towards ``destination`` (``routers``: the add-ons that need BGP routers)."""
        return tuple(a for a in ADDONS if any(r.addon == a and destination in r.destinations for r in self.rows))

    def select(self, *, platform: str | None = None, version: Version | None = None) -> tuple[Row, ...]:
        """Rows for one platform and EKS-A version (``None`` = any), errata included."""
        return tuple(r for r in self.rows if (platform is None or r.for_platform(platform)) and (version is None or r.for_version(version)))


_FIELDS = {
    "id", "section", "table", "origin", "protocol", "direction", "ports", "purpose", "used_by", "sources",
    "destinations", "platforms", "when", "port_option", "since", "until", "sensitive", "citation", "superseded_by", "addon",
}  # fmt: skip


def _row(raw: dict[str, object]) -> Row:
    unknown = set(raw) - _FIELDS
    rid = raw.get("id", "?")
    if unknown:
        raise CatalogError(f"row {rid}: unknown fields {sorted(unknown)}")

    def text(key: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value:
            raise CatalogError(f"row {rid}: {key} must be a non-empty string")
        return value

    def opt_text(key: str) -> str | None:
        return text(key) if key in raw else None

    def words(key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        value = raw.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise CatalogError(f"row {rid}: {key} must be a non-empty list of strings")
        bad = [v for v in value if v not in allowed]
        if bad:
            raise CatalogError(f"row {rid}: {key} has unknown words {bad}; known: {allowed}")
        return tuple(value)  # type: ignore[arg-type]

    def version(key: str) -> Version | None:
        return parse_version(text(key)) if key in raw else None

    protocol = _PROTOCOLS.get(text("protocol").lower())
    if protocol is None:
        raise CatalogError(f"row {rid}: protocol must be TCP, UDP or ICMP")
    try:
        ports = parse_ports(text("ports"))
    except ValueError as exc:
        raise CatalogError(f"row {rid}: {exc}") from exc
    origin = text("origin")
    if origin not in ("page", "upstream"):
        raise CatalogError(f"row {rid}: origin must be page or upstream")
    when = text("when")
    if when not in CONDITIONS:
        raise CatalogError(f"row {rid}: when must be one of {CONDITIONS}")
    port_option = opt_text("port_option")
    if port_option is not None and port_option not in PORT_OPTIONS:
        raise CatalogError(f"row {rid}: port_option must be one of {PORT_OPTIONS}")
    addon = opt_text("addon")
    if addon is not None and addon not in ADDONS:
        raise CatalogError(f"row {rid}: addon must be one of {ADDONS}")
    if addon is not None and origin != "upstream":
        raise CatalogError(f'row {rid}: an add-on row is beyond the page (origin = "upstream", with its citation)')
    row = Row(
        id=text("id"),
        section=text("section"),
        table=text("table"),
        origin=origin,  # type: ignore[arg-type]
        protocol_text=text("protocol"),
        direction=text("direction"),
        ports_text=text("ports"),
        purpose=text("purpose"),
        used_by=text("used_by"),
        protocol=protocol,
        ports=ports,
        sources=words("sources", SOURCES),
        destinations=words("destinations", DESTINATIONS),
        platforms=words("platforms", ("any", *PLATFORMS)),
        when=when,
        port_option=port_option,
        since=version("since"),
        until=version("until"),
        sensitive=bool(raw.get("sensitive", False)),
        citation=opt_text("citation"),
        superseded_by=opt_text("superseded_by"),
        addon=addon,
    )
    if origin == "upstream" and not row.citation:
        raise CatalogError(f"row {rid}: a row beyond the page must cite its source")
    if "self" in row.sources and len(row.sources) > 1 and row.sources[0] != "self":
        raise CatalogError(f"row {rid}: write 'self' first in sources")
    return row


CATALOG_TOML = Path(__file__).resolve().parent / "data" / "ports.toml"


def parse_catalog(text: str) -> Catalog:
    """Parse and check the catalog's TOML text."""
    return _catalog(tomllib.loads(text))


def _catalog(data: Mapping[str, Any]) -> Catalog:
    raw_rows = data.get("row")
    if not isinstance(raw_rows, list) or set(data) != {"row"}:
        raise CatalogError("the catalog must hold only [[row]] tables")
    rows = tuple(_row(r) for r in raw_rows)
    ids = [r.id for r in rows]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CatalogError(f"duplicate row ids: {dupes}")
    for r in rows:
        if r.superseded_by is not None and r.superseded_by not in ids:
            raise CatalogError(f"row {r.id}: superseded_by names unknown row {r.superseded_by}")
    return Catalog(rows)


@cache
def load_catalog() -> Catalog:
    """The catalog shipped with the package: ``data/ports.toml``, the file people edit and review."""
    return parse_catalog(CATALOG_TOML.read_text(encoding="utf-8"))
