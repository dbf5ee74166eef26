"""``verify``: do the rendered objects allow exactly the required flows?

Each platform has an *interpreter* module (``components/<platform>/interpret.py``) with two pure functions:

- ``enforced_flows(topology, flows) -> Iterable[Flow]``: the flows its objects are responsible for
  (e.g. NSX: flows into the cluster's nodes; security groups: ingress to and egress from the groups);
- ``allowed(topology, resources) -> Iterable[Access]``: what the registered objects allow, read from the
  resources *as registered* (type and engine inputs), never from the flows they were made from.

``compare`` reports, at the level of concrete addresses and ports, what is missing and what is in excess.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .catalog import Protocol
from .engine import Registration
from .flows import Access, FlowSet, expand, normalize
from .platforms import load_interpreter
from .ports import merge, subtract
from .reader import Network
from .topology import Topology


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


def _within(inner: Network, outer: Network) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


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
        cover = [y.ports for y in by_protocol[x.protocol] if _within(x.source, y.source) and _within(x.destination, y.destination)]
        for r in subtract((x.ports,), merge(cover)):
            out.append(Access(x.source, x.destination, x.protocol, r))
    return tuple(sorted(out, key=lambda y: (y.source.version, y.source, y.destination.version, y.destination, y.protocol, y.ports)))


def compare(platform: str, required: Iterable[Access], allowed: Iterable[Access]) -> Report:
    req, allow = normalize(required), normalize(allowed)
    return Report(platform, req, allow, _difference(req, allow), _difference(allow, req))


def verify(topology: Topology, flows: FlowSet, resources: Sequence[Registration]) -> Report:
    interpreter = load_interpreter(topology.platform)
    required = expand(topology, interpreter.enforced_flows(topology, flows))
    allowed = interpreter.allowed(topology, resources)
    return compare(topology.platform, required, allowed)
