"""``verify``: do the rendered objects allow exactly the required flows?

Two sides, computed independently:
- required: the flows, as far as the platform's objects decide them (``visibility.required_accesses`` with
  the platform's declared ``Visibility``), never the planner's own scoping;
- allowed: what the registered objects allow, read from the resources *as registered* (type and engine
  inputs) by the platform's interpreter (``<platform>/interpret.py``: ``allowed(topology, registrations)``),
  never from the flows they were made from.

``compare`` reports, at the level of concrete addresses and ports, what is missing and what is in excess.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .addresses import within
from .catalog import Protocol
from .flows import Access, FlowSet, normalize
from .ports import merge, subtract
from .registration import Registration
from .topology import Topology
from .visibility import required_accesses


@dataclass(frozen=True, slots=True)
class Report:
    platform: str
    required: frozenset[Access]
    allowed: frozenset[Access]
    missing: tuple[Access, ...]
    excess: tuple[Access, ...]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.excess

    def to_json(self) -> dict[str, object]:
        def rows(accesses: Iterable[Access]) -> list[dict[str, str]]:
            return [
                {"source": str(a.source), "destination": str(a.destination), "protocol": a.protocol, "ports": str(a.ports)}
                for a in accesses
            ]

        return {
            "platform": self.platform,
            "ok": self.ok,
            "required": len(self.required),
            "allowed": len(self.allowed),
            "missing": rows(self.missing),
            "excess": rows(self.excess),
        }


def _difference(a: frozenset[Access], b: frozenset[Access]) -> tuple[Access, ...]:
    """Accesses of ``a`` not covered by ``b``, port by port.

    An entry of ``b`` covers an entry of ``a`` when its source and destination networks contain
    ``a``'s: a rule opened to 0.0.0.0/0 covers a required /24 (and is itself reported as excess).
    """
    by_protocol: dict[Protocol, list[Access]] = defaultdict(list)
    for y in b:
        by_protocol[y.protocol].append(y)
    out: list[Access] = []
    for x in a:
        cover = [y.ports for y in by_protocol[x.protocol] if within(x.source, y.source) and within(x.destination, y.destination)]
        for r in subtract((x.ports,), merge(cover)):
            out.append(Access(x.source, x.destination, x.protocol, r))
    return tuple(sorted(out))


def compare(platform: str, required: Iterable[Access], allowed: Iterable[Access]) -> Report:
    req, allow = normalize(required), normalize(allowed)
    return Report(platform, req, allow, _difference(req, allow), _difference(allow, req))


def required(topology: Topology, flows: FlowSet) -> frozenset[Access]:
    """What the platform's objects must allow: the flows, as far as its declared visibility reaches."""
    return required_accesses(topology, flows, topology.platform_spec.visibility(topology))


def verify(topology: Topology, flows: FlowSet, resources: Sequence[Registration]) -> Report:
    allowed = topology.platform_spec.interpreter().allowed(topology, resources)
    return compare(topology.platform, required(topology, flows), allowed)
