"""``eksa-firewall verify``: do the rendered objects allow exactly the required accesses?

``components.verify.verify`` compares the accesses the flows require with those the registered objects allow
(read back by the platform's interpreter). This module says, for every missing or excess access, which
cluster, source and destination endpoints, protocol/ports and catalog rows it concerns: it matches the access
against each flow's own accesses (``flows.expand`` per flow) and, when no flow holds it, against the endpoints' ranges.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..flows import Access, Flow, FlowSet, endpoint_addresses, expand
from ..reader import Network
from ..topology import Topology
from .common import EXIT_FAILED, EXIT_OK, add_stack_arguments, load_stack_args

ACCESS_SENTENCE = (
    "an access is one source range to one destination range on one protocol and port range: a flow expands to one "
    "access per pair of its endpoints' ranges, and only the flows this platform's objects enforce count"
)
FULL = {"tcp": (0, 65535), "udp": (0, 65535), "icmp": (0, 255)}
OWN = ("control-plane", "etcd", "worker", "control-plane-vip", "api-load-balancer")  # a cluster's own endpoints


@dataclass(frozen=True, slots=True)
class Explained:
    """One missing or excess access with its context."""

    access: Access
    clusters: tuple[str, ...]
    sources: tuple[str, ...]  # endpoints whose ranges hold the access's source ("" when none)
    destinations: tuple[str, ...]
    rows: tuple[str, ...]  # the catalog rows of the flows it belongs to; empty: no row requires it

    def line(self) -> str:
        a = self.access
        src = _endpoints(self.sources, a.source)
        dst = _endpoints(self.destinations, a.destination)
        ports = f"type {_range(a)}" if a.protocol == "icmp" else _range(a)
        where = f"cluster {', '.join(self.clusters)}" if self.clusters else "no cluster"
        rows = f"rows {', '.join(self.rows)}" if self.rows else "no row: nothing requires it"
        return f"{where}: {src} -> {dst}, {a.protocol} {ports} ({rows})"

    def to_json(self) -> dict[str, Any]:
        a = self.access
        return {
            "source": str(a.source), "destination": str(a.destination), "protocol": a.protocol, "ports": str(a.ports),
            "clusters": list(self.clusters), "source_endpoints": list(self.sources),
            "destination_endpoints": list(self.destinations), "rows": list(self.rows),
        }  # fmt: skip


def _range(a: Access) -> str:
    return str(a.ports.lo) if a.ports.lo == a.ports.hi else f"{a.ports.lo}-{a.ports.hi}"


def _endpoints(names: Sequence[str], net: Network) -> str:
    return f"{'/'.join(names)} {net}" if names else f"(no endpoint) {net}"


def _within(inner: Network, outer: Network) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


class Explainer:
    """Finds the context of accesses: endpoint ranges per cluster, each flow's own accesses (computed once)."""

    def __init__(self, topology: Topology, flows: FlowSet) -> None:
        self.flows = flows.flows
        self.per_flow: list[frozenset[Access]] = [expand(topology, [f]) for f in self.flows]
        self.ranges: dict[tuple[str, str], tuple[Network, ...]] = {}
        for f in self.flows:
            cluster = topology.cluster(f.cluster)
            for e in (f.source, f.destination):
                self.ranges.setdefault((f.cluster, e), endpoint_addresses(topology, cluster, e))

    def explain(self, a: Access) -> Explained:
        """The flows whose own accesses hold ``a`` (a missing access always has some); for an access no flow holds (an
        excess), the endpoints whose ranges hold its source and destination, and no row."""
        owners: list[Flow] = [
            f
            for f, accesses in zip(self.flows, self.per_flow, strict=True)
            if f.protocol == a.protocol
            and any(
                _within(a.source, x.source)
                and _within(a.destination, x.destination)
                and x.ports.lo <= a.ports.lo
                and a.ports.hi <= x.ports.hi
                for x in accesses
            )
        ]
        if owners:
            clusters = _unique(f.cluster for f in owners)
            sources, destinations = _unique(f.source for f in owners), _unique(f.destination for f in owners)
            rows = tuple(sorted({r for f in owners for r in f.rows}))
            return Explained(a, clusters, sources, destinations, rows)
        src = [(c, e) for (c, e), nets in self.ranges.items() if any(_within(a.source, n) for n in nets)]
        dst = [(c, e) for (c, e), nets in self.ranges.items() if any(_within(a.destination, n) for n in nets)]
        # A range of a cluster's own machines names the cluster (not the clusters it manages); a shared peer does not.
        src = [m for m in src if m[1] in OWN] or src
        dst = [m for m in dst if m[1] in OWN] or dst
        clusters = _unique(c for c, e in dst if e in OWN) or _unique(c for c, e in src if e in OWN) or _unique(c for c, _ in dst)
        return Explained(a, clusters, _unique(e for c, e in src if c in clusters), _unique(e for c, e in dst if c in clusters), ())


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(items)))


def audit_mode(project_values: Mapping[str, Any]) -> bool:
    """vSphere with ``vsphere.nsx.mode: audit``: each policy ends with an ALLOW rule that logs what it lets through."""
    vsphere = project_values.get("vsphere")
    nsx = vsphere.get("nsx") if isinstance(vsphere, Mapping) else None
    return isinstance(nsx, Mapping) and nsx.get("mode") == "audit"


def is_catch_all(a: Access) -> bool:
    """From anywhere, on every port of the protocol: what an audit policy's final ALLOW rule lets in."""
    return a.source.prefixlen == 0 and (a.ports.lo, a.ports.hi) == FULL.get(a.protocol)


def run(args: argparse.Namespace) -> int:
    from ..engine import run_stack
    from ..verify import verify

    stack = load_stack_args(args)
    resources = run_stack(stack.config).resources
    report = verify(stack.topology, stack.flows, resources)
    explainer = Explainer(stack.topology, stack.flows)
    missing = [explainer.explain(a) for a in report.missing]
    audit = audit_mode(stack.config.project_values())
    expected = [explainer.explain(a) for a in report.excess if audit and is_catch_all(a)]
    excess = [explainer.explain(a) for a in report.excess if not (audit and is_catch_all(a))]
    ok = not missing and not excess
    flows = len(stack.flows.flows)
    if args.format == "json":
        doc = {
            "platform": report.platform,
            "ok": ok,
            "flows": flows,
            "required": len(report.required),
            "allowed": len(report.allowed),
            "missing": [m.to_json() for m in missing],
            "excess": [x.to_json() for x in excess],
            "audit_mode": audit,
            "expected_in_audit_mode": [x.to_json() for x in expected],
        }
        print(json.dumps(doc, indent=2))
        return EXIT_OK if ok else EXIT_FAILED
    print(
        f"verify {stack.config.stack} ({report.platform}): {flows} flows give {len(report.required)} required accesses "
        f"({ACCESS_SENTENCE}); the rendered objects allow {len(report.allowed)}."
    )
    for label, items in (("MISSING", missing), ("EXCESS", excess)):
        for item in items:
            print(f"  {label}  {item.line()}")
    if expected:
        clusters = ", ".join(_unique(c for x in expected for c in x.clusters))
        print(
            f"  expected in audit mode: {len(expected)} accesses from anywhere on every port, into cluster {clusters}: each policy's "
            "final rule ALLOWs and logs the traffic no other rule matches (vsphere.nsx.mode: audit). Switch to enforce "
            "once the NSX logs show nothing you need is hitting it; verify then expects none."
        )
    if ok:
        print("OK: the rendered objects allow exactly the required flows" + (" (besides the audit rule above)" if expected else ""))
    else:
        print(f"FAILED: {len(missing)} missing, {len(excess)} excess")
    return EXIT_OK if ok else EXIT_FAILED


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "verify",
        help="check the rendered objects against the required flows",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stack_arguments(p)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)
