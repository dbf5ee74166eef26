"""Shared by the export tests: write an export to disk, run Aerleon on it, and read what Aerleon's model allows.

Aerleon is used the way a network team would: the definitions directory through ``naming.Naming(dir)``, the
policy files through ``aerleon.api.Generate`` with ``include_path`` (aerleon/api.py), and the policy model
through ``aerleon.lib.yaml.ParsePolicy`` (aerleon/lib/yaml.py). Aerleon logs through absl, i.e. Python's
``logging`` under the ``absl`` logger: every record at WARNING or above is collected.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from components.endpoints import NODE_LOCAL
from components.export.aerleon import AerleonOptions, aerleon_files
from components.flows import FlowSet, build_flows, expand
from components.reader import Network
from components.stackfile import load_project
from components.topology import Topology, parse_topology
from tests.helpers import PROJECT_DIR

# The five generators the issue names, by Aerleon platform name, and the suffix of their files (api.Generate).
GENERATORS = {"nftables": ".nft", "iptables": "", "srx": ".srx", "paloalto": ".xml", "ciscoasa": ".asa"}


def from_stack(name: str) -> tuple[Topology, FlowSet]:
    """A stack of stacks/ as the command line reads it (components.cli.load_stack_args)."""
    from components.cli.common import load_stack_args

    _sc, topology, flows = load_stack_args(argparse.Namespace(stack=name, stack_file=None, project_dir=str(PROJECT_DIR)))
    return topology, flows


def from_config(config: dict[str, Any]) -> tuple[Topology, FlowSet]:
    """Un-namespaced config keys (a stack file's, as tests/helpers.py's plans use them) -> topology and flows."""
    values = {**load_project(PROJECT_DIR).defaults, **config}
    topology = parse_topology(values, read_file=lambda path: (PROJECT_DIR / path).read_text(encoding="utf-8"))
    return topology, build_flows(topology)


def write(files: dict[str, str], root: Path) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def export_to(root: Path, topology: Topology, flows: FlowSet, options: AerleonOptions) -> Path:
    return write(aerleon_files(topology, flows, options), root)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def aerleon_warnings() -> Iterator[list[str]]:
    """Every absl log record at WARNING or above and every Python warning raised inside the block."""
    handler = _Collect()
    logger = logging.getLogger("absl")
    logger.addHandler(handler)
    found: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield found
    finally:
        logger.removeHandler(handler)
    found += [f"{r.levelname}: {r.getMessage()}" for r in handler.records]
    found += [f"{w.category.__name__}: {w.message}" for w in caught]


def generate(root: Path) -> dict[str, str]:
    """Aerleon's generators on the export under ``root``: output file name -> text."""
    from aerleon import api
    from aerleon.lib import naming

    definitions = naming.Naming(str(root / "def"))
    policies = []
    for path in sorted((root / "policies" / "pol").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["filename"] = path.stem
        policies.append(doc)
    out = api.Generate(policies, definitions, include_path=root / "policies")
    assert out is not None
    return dict(out)


def parse(root: Path) -> Any:
    """Aerleon's policy model (aerleon.lib.policy.Policy) of the export's one policy file."""
    from aerleon.lib import naming
    from aerleon.lib import yaml as aerleon_yaml

    (path,) = sorted((root / "policies" / "pol").glob("*.yaml"))
    definitions = naming.Naming(str(root / "def"))
    return aerleon_yaml.ParsePolicy(
        path.read_text(encoding="utf-8"), filename=path.name, base_dir=str(root / "policies"), definitions=definitions
    )


# --- what a policy allows, as boxes of (source, destination, port) ------------------------------------------


class Box(NamedTuple):
    """Everything from [s_lo, s_hi] to [d_lo, d_hi] on ports (ICMP: types) [p_lo, p_hi], one protocol and family."""

    protocol: str  # tcp, udp, icmp (ICMPv6 too: the family tells)
    version: int
    s_lo: int
    s_hi: int
    d_lo: int
    d_hi: int
    p_lo: int
    p_hi: int


def _span(net: Network) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)


def required_boxes(topology: Topology, flows: FlowSet, segment: Iterable[Network] = ()) -> list[Box]:
    """The flows' accesses (components.flows.expand); with a segment, only the address pairs across its edge.

    ICMP on IPv6: the flows carry ICMP types, echo request (8) is ICMPv6 type 128 (docs/platforms/baremetal.md)."""
    segment = list(segment)
    out: list[Box] = []
    # A node's own pods reaching it (pods-on-node) never leave the node: no segment's edge sees them.
    crossing = [f for f in flows.flows if not (segment and f.source in NODE_LOCAL)]
    for a in expand(topology, crossing):
        ports = (a.ports.lo, a.ports.hi)
        if a.protocol == "icmp" and a.source.version == 6:
            assert ports == (8, 8), a
            ports = (128, 128)
        for (s_lo, s_hi), s_in in _parts(a.source, segment):
            for (d_lo, d_hi), d_in in _parts(a.destination, segment):
                if segment and s_in == d_in:
                    continue  # both on one side of the edge: never crosses it
                out.append(Box(a.protocol, a.source.version, s_lo, s_hi, d_lo, d_hi, *ports))
    return out


def _parts(net: Network, segment: list[Network]) -> list[tuple[tuple[int, int], bool]]:
    """``net`` cut into intervals inside (True) and outside (False) the segment, by integer arithmetic."""
    if not segment:
        return [(_span(net), False)]
    pieces = [(_span(net), False)]
    for seg in (s for s in segment if s.version == net.version):
        lo, hi = _span(seg)
        nxt: list[tuple[tuple[int, int], bool]] = []
        for (a, b), inside in pieces:
            if inside or b < lo or a > hi:
                nxt.append(((a, b), inside))
                continue
            if a < lo:
                nxt.append(((a, lo - 1), False))
            nxt.append(((max(a, lo), min(b, hi)), True))
            if b > hi:
                nxt.append(((hi + 1, b), False))
        pieces = nxt
    return pieces


def allowed_boxes(pol: Any, platform: str) -> list[Box]:
    """What Aerleon's model of the policy accepts on ``platform``: the filters with a target for it, their terms
    for that platform (platform / platform-exclude), addresses of the filter's family.

    Checks the shape the export promises: accept terms, then one last term that matches everything and does
    not accept (or none, where the filter drops by default). So the accepted space is the union of the accept terms."""
    from aerleon.lib.policy import Term

    out: list[Box] = []
    for header, terms in pol.filters:
        if platform not in header.platforms:
            continue
        options = header.FilterOptions(platform)
        family = {6} if "inet6" in options else {4}
        terms = [t for t in terms if (not t.platform or platform in t.platform) and platform not in t.platform_exclude]
        if terms[-1].action != ["accept"]:
            last = terms.pop()
            assert last.action[0] in ("deny", "reject") and not (last.source_address or last.destination_address or last.protocol), last
        else:  # no default term for this platform (reject on nftables): the chain's policy must drop
            assert platform == "nftables" and "ACCEPT" not in options, (platform, options)
        for t in terms:
            assert t.action == ["accept"], t
            assert len(t.protocol) == 1, t
            proto = t.protocol[0]
            if proto == "icmpv6":
                proto = "icmp"
            if proto == "icmp":
                version = 6 if t.protocol[0] == "icmpv6" else 4
                ports = [(Term.ICMP_TYPE[version][n], Term.ICMP_TYPE[version][n]) for n in t.icmp_type]
            else:
                ports = list(t.destination_port)
            for s in t.source_address:
                for d in t.destination_address:
                    if s.version != d.version or s.version not in family:
                        continue
                    if proto == "icmp" and s.version != (6 if t.protocol[0] == "icmpv6" else 4):
                        continue
                    out.extend(Box(proto, s.version, *_span(s), *_span(d), lo, hi) for lo, hi in ports)
    return out


def differences(required: list[Box], allowed: list[Box], limit: int = 20) -> list[str]:
    """Points allowed by one side only. Exact: every cell of the grid made by all box edges is sampled once."""
    found: list[str] = []
    groups = {(b.protocol, b.version) for b in [*required, *allowed]}
    for proto, version in sorted(groups):
        want = [b for b in required if (b.protocol, b.version) == (proto, version)]
        have = [b for b in allowed if (b.protocol, b.version) == (proto, version)]
        every = [*want, *have]
        xs = sorted({v for b in every for v in (b.s_lo, b.s_hi + 1)})
        ys = sorted({v for b in every for v in (b.d_lo, b.d_hi + 1)})
        ps = sorted({v for b in every for v in (b.p_lo, b.p_hi + 1)})
        for x in xs:
            w_x = [b for b in want if b.s_lo <= x <= b.s_hi]
            h_x = [b for b in have if b.s_lo <= x <= b.s_hi]
            if not w_x and not h_x:
                continue
            for y in ys:
                w_y = [b for b in w_x if b.d_lo <= y <= b.d_hi]
                h_y = [b for b in h_x if b.d_lo <= y <= b.d_hi]
                if not w_y and not h_y:
                    continue
                for p in ps:
                    w = any(b.p_lo <= p <= b.p_hi for b in w_y)
                    h = any(b.p_lo <= p <= b.p_hi for b in h_y)
                    if w != h:
                        addr = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
                        s, d = addr(x), addr(y)
                        found.append(f"{'missing' if w else 'excess'}: {s} -> {d} {proto}/{p} (IPv{version})")
                        if len(found) >= limit:
                            return found
    return found
