"""Pure: the rulesets *as registered* -> the accesses they allow (for ``verify``).

``allowed`` reads the nftables text that every ``eksa-firewall:index:NftablesRuleset`` registration carries
(input ``ruleset``, host role in input ``host``); the text its children carry to disk or to the machines
(``command:local:Command`` / ``command:remote:Command`` ``stdin``) must be the same, or it is an error. It
parses the text itself, replays the script's table statements (`table`, `delete table`) and evaluates the
input base chain; it never looks at the flows the text was made from.

Meaning given to each rule (what a packet *delivered to these machines* must look like to be accepted):
- ``ct state established,related accept``: replies to connections these machines opened: not a new access;
  ``ct state invalid drop`` changes nothing for new connections; ``iif lo accept``: the machine itself.
- IPv6 neighbour discovery (``icmpv6 type {nd-...} ip6 hoplimit 255``): link-local plumbing, not an access.
- any other accept rule: every source in its ``saddr`` (none: any address of the family) may reach every
  destination in its ``daddr`` that these machines hold (none: all of them) on its protocol and ports
  (none: every protocol and port). A destination the machines do not hold matches nothing.
- the limited broadcast 255.255.255.255 in ``daddr`` (a DHCPDISCOVER from 0.0.0.0) is delivered to the
  server the rule names beside it; with no unicast destination, to every address the machines hold.
- an accept on any other interface (``iif``/``iifname``) accepts everything arriving there: reported as
  access from anywhere, on every port.
- a drop/reject with conditions *before* an accept would subtract from it: not supported, reported as an error.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..catalog import Protocol
from ..errors import EksaFirewallError
from ..flows import Access, normalize
from ..icmp import NAMES_V4, NAMES_V6, icmpv4_type
from ..ports import MAX_ICMP_TYPE, MAX_PORT, PortRange, merge, parse_ports
from ..reader import Network
from ..registration import Registration
from ..topology import Topology
from .hosts import LIMITED_BROADCAST, HostRole, host_roles

RULESET_TYPE = "eksa-firewall:index:NftablesRuleset"
CARRIER_TYPES = ("command:remote:Command", "command:local:Command")
ANY4 = ipaddress.IPv4Network("0.0.0.0/0")
ANY6 = ipaddress.IPv6Network("::/0")
ICMP_TYPES = {name: t for t, name in NAMES_V4.items()}
ICMPV6_TYPES = {name: t for t, name in NAMES_V6.items()}
ND_TYPES = frozenset({"nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-advert", "nd-router-solicit", "133", "134", "135", "136"})
PROTOCOLS: tuple[Protocol, ...] = ("tcp", "udp", "icmp")


class InterpretError(EksaFirewallError):
    """The ruleset uses something this interpreter does not model; it refuses to guess."""


# --- parsing -------------------------------------------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}();,]|\n|[^\s{}();,"]+')


def _tokens(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        out, quoted = [], False
        for ch in line:
            if ch == '"':
                quoted = not quoted
            if ch == "#" and not quoted:
                break
            out.append(ch)
        lines.append("".join(out))
    return [t for t in _TOKEN.findall("\n".join(lines)) if t.strip(" \t") != ""]


@dataclass
class Chain:
    name: str
    hook: str | None = None
    policy: str = "accept"
    rules: list[list[str]] = field(default_factory=list)


@dataclass
class Table:
    family: str
    name: str
    sets: dict[str, list[str]] = field(default_factory=dict)
    chains: dict[str, Chain] = field(default_factory=dict)


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> str:
        tok = self.peek()
        if tok is None:
            raise InterpretError("unexpected end of the ruleset")
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        got = self.next()
        if got != tok:
            raise InterpretError(f"expected {tok!r}, got {got!r}")

    def skip_separators(self) -> None:
        while self.peek() in ("\n", ";"):
            self.i += 1

    def statement(self) -> list[str]:
        """Tokens up to the next newline or ';' outside braces (braces kept, inner newlines dropped)."""
        out: list[str] = []
        depth = 0
        while (tok := self.peek()) is not None:
            if depth == 0 and tok in ("\n", ";", "}"):
                break
            self.i += 1
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
            if tok != "\n":
                out.append(tok)
        return out

    def script(self) -> dict[tuple[str, str], Table]:
        tables: dict[tuple[str, str], Table] = {}
        while True:
            self.skip_separators()
            tok = self.peek()
            if tok is None:
                return tables
            if tok == "table":
                self.next()
                family, name = self.next(), self.next()
                table = tables.setdefault((family, name), Table(family, name))
                self.expect("{")
                self.table_body(table)
            elif tok == "delete":
                self.next()
                what = self.next()
                if what != "table":
                    raise InterpretError(f"`delete {what}` is not modelled")
                family, name = self.next(), self.next()
                if (family, name) not in tables:
                    raise InterpretError(f"delete table {family} {name}: no such table (nft -f would fail)")
                del tables[(family, name)]
            else:
                raise InterpretError(f"top-level statement {' '.join(self.statement())!r} is not modelled")

    def table_body(self, table: Table) -> None:
        while True:
            self.skip_separators()
            tok = self.next()
            if tok == "}":
                return
            name = self.next()
            self.expect("{")
            if tok == "set":
                table.sets[name] = self.set_body()
            elif tok == "chain":
                table.chains[name] = self.chain_body(name)
            else:
                raise InterpretError(f"{tok} {name} in table {table.name} is not modelled")

    def set_body(self) -> list[str]:
        elements: list[str] = []
        while True:
            self.skip_separators()
            if self.peek() == "}":
                self.next()
                return elements
            stmt = self.statement()
            if stmt[:2] == ["elements", "="]:
                elements = [t for t in stmt[2:] if t not in ("{", "}", ",")]

    def chain_body(self, name: str) -> Chain:
        chain = Chain(name)
        while True:
            self.skip_separators()
            if self.peek() == "}":
                self.next()
                return chain
            stmt = self.statement()
            if stmt and stmt[0] == "type":
                chain.hook = stmt[stmt.index("hook") + 1] if "hook" in stmt else None
            elif stmt and stmt[0] == "policy":
                chain.policy = stmt[1]
            elif stmt:
                chain.rules.append(stmt)


def parse_ruleset(text: str) -> dict[tuple[str, str], Table]:
    """The tables the script leaves behind when run with `nft -f` on a host without them."""
    return _Parser(text).script()


# --- evaluating ----------------------------------------------------------------------------------


def _value(toks: list[str], i: int) -> tuple[list[str], int]:
    """The value at toks[i]: a single token or an anonymous set; returns (elements, next index)."""
    if toks[i] != "{":
        values = [toks[i]]
        i += 1
        while i + 1 < len(toks) and toks[i] == ",":  # `ct state established,related`
            values.append(toks[i + 1])
            i += 2
        return values, i
    j = toks.index("}", i)
    return [t for t in toks[i + 1 : j] if t != ","], j + 1


def _network(text: str) -> list[Network]:
    if "-" in text and "/" not in text:
        lo, hi = (ipaddress.ip_address(x) for x in text.split("-", 1))
        return list(ipaddress.summarize_address_range(lo, hi))  # type: ignore[arg-type]
    return [ipaddress.ip_network(text, strict=True)]


def _networks(values: list[str], sets: Mapping[str, list[str]]) -> list[Network]:
    out: list[Network] = []
    for v in values:
        if v.startswith("@"):
            if v[1:] not in sets:
                raise InterpretError(f"rule names set {v}, which the table does not define")
            out += [n for e in sets[v[1:]] for n in _network(e)]
        else:
            out += _network(v)
    return out


def _ports(values: list[str], names: Mapping[str, int], limit: int) -> list[PortRange]:
    out: list[PortRange] = []
    for v in values:
        if v in names:
            out.append(PortRange.single(names[v]))
        else:
            ranges = parse_ports(v)
            if any(r.hi > limit for r in ranges):
                raise InterpretError(f"{v} is out of range")
            out += ranges
    return out


@dataclass
class _Match:
    saddr: dict[int, list[Network]] = field(default_factory=dict)
    daddr: dict[int, list[Network]] = field(default_factory=dict)
    families: set[int] = field(default_factory=set)
    protocol: str | None = None
    ports: list[PortRange] | None = None
    ct: list[str] | None = None
    iif: str | None = None
    nd: bool = False
    verdict: str | None = None


def _rule(toks: list[str], sets: Mapping[str, list[str]]) -> _Match:
    m = _Match()
    i = 0
    while i < len(toks):
        t = toks[i]
        if t in ("ip", "ip6") and i + 1 < len(toks) and toks[i + 1] in ("saddr", "daddr"):
            fam, which = (4 if t == "ip" else 6), toks[i + 1]
            if toks[i + 2] == "!=":
                raise InterpretError(f"negated match in {' '.join(toks)!r} is not modelled")
            values, i = _value(toks, i + 2)
            nets = _networks(values, sets)
            if any(n.version != fam for n in nets):
                raise InterpretError(f"{t} {which} holds an address of the other family in {' '.join(toks)!r}")
            (m.saddr if which == "saddr" else m.daddr).setdefault(fam, []).extend(nets)
            m.families.add(fam)
        elif t == "ip6" and toks[i + 1] == "hoplimit":
            i += 3
        elif t in ("tcp", "udp") and toks[i + 1] == "dport":
            values, i = _value(toks, i + 2)
            m.protocol, m.ports = t, _ports(values, {}, MAX_PORT)
        elif t == "icmp" and toks[i + 1] == "type":
            values, i = _value(toks, i + 2)
            m.protocol, m.ports = "icmp", _ports(values, ICMP_TYPES, MAX_ICMP_TYPE)
            m.families.add(4)
        elif t == "icmpv6" and toks[i + 1] == "type":
            values, i = _value(toks, i + 2)
            if all(v in ND_TYPES for v in values):
                m.nd = True
            else:
                types = _ports(values, ICMPV6_TYPES, MAX_ICMP_TYPE)
                m.protocol = "icmp"
                m.ports = [PortRange.single(icmpv4_type(x)) for r in types for x in range(r.lo, r.hi + 1)]
            m.families.add(6)
        elif t == "ct" and toks[i + 1] == "state":
            values, i = _value(toks, i + 2)
            m.ct = [s for v in values for s in v.split(",")]
        elif t in ("iif", "iifname"):
            values, i = _value(toks, i + 1)
            m.iif = ",".join(v.strip('"') for v in values)
        elif t == "comment":
            i += 2
        elif t == "counter":
            i += 1
        elif t in ("accept", "drop"):
            m.verdict = t
            i += 1
        elif t == "reject":
            m.verdict = "drop"
            i = len(toks)  # `reject with ...` ends the rule
        else:
            raise InterpretError(f"{t!r} in rule {' '.join(toks)!r} is not modelled")
    return m


def _clip(destinations: Sequence[Network], held: Sequence[Network]) -> list[Network]:
    """The part of ``destinations`` these machines hold (CIDRs either nest or are disjoint)."""
    out: list[Network] = []
    for d in destinations:
        for h in held:
            if d.version != h.version or not d.overlaps(h):  # type: ignore[arg-type]
                continue
            out.append(d if d.prefixlen >= h.prefixlen else h)
    return out


def _accesses(m: _Match, host: HostRole) -> list[Access]:
    held = host.held
    families = m.families or {4, 6}
    out: list[Access] = []
    for fam in sorted(families):
        anywhere = [ANY4] if fam == 4 else [ANY6]
        sources = anywhere if m.iif is not None or fam not in m.saddr else m.saddr[fam]
        dests = m.daddr.get(fam)
        if dests is None:
            dests = [h for h in held if h.version == fam]
        else:
            unicast = [d for d in dests if d != LIMITED_BROADCAST]
            if len(unicast) < len(dests) and not unicast:
                unicast = [h for h in held if h.version == fam]
            dests = unicast
        dests = _clip(dests, held)
        if m.protocol is None:
            protos: list[tuple[Protocol, list[PortRange]]] = [
                ("tcp", [PortRange(0, MAX_PORT)]),
                ("udp", [PortRange(0, MAX_PORT)]),
                ("icmp", [PortRange(0, MAX_ICMP_TYPE)]),
            ]
        else:
            protos = [(m.protocol, list(m.ports or []))]  # type: ignore[list-item]
        for proto, ports in protos:
            out += [Access(s, d, proto, r) for s in sources for d in dests if s.version == d.version for r in merge(ports)]
    return out


def chain_accesses(chain: Chain, sets: Mapping[str, list[str]], host: HostRole) -> list[Access]:
    if chain.policy != "drop":
        raise InterpretError(f"chain {chain.name} has policy {chain.policy}: it accepts everything; not modelled")
    out: list[Access] = []
    conditional_drop: list[str] | None = None
    for toks in chain.rules:
        m = _rule(toks, sets)
        if m.verdict is None:
            raise InterpretError(f"rule {' '.join(toks)!r} has no verdict")
        if m.ct is not None and "new" not in m.ct:
            continue  # replies (established/related) or invalid packets: never a new connection
        if m.nd:
            continue
        if m.iif == "lo" and m.verdict == "accept":
            continue
        conditions = m.saddr or m.daddr or m.protocol or m.iif
        if m.verdict == "drop":
            if conditions:
                conditional_drop = toks
            continue
        if conditional_drop is not None:
            raise InterpretError(f"a conditional drop ({' '.join(conditional_drop)!r}) before an accept is not modelled")
        out += _accesses(m, host)
    return out


def ruleset_accesses(text: str, host: HostRole) -> list[Access]:
    tables = parse_ruleset(text)
    chains = [(c, t.sets) for t in tables.values() for c in t.chains.values() if c.hook == "input"]
    if len(chains) > 1:
        raise InterpretError("more than one input chain: a packet would have to pass all of them; not modelled")
    return [a for c, sets in chains for a in chain_accesses(c, sets, host)]


# --- the registrations ---------------------------------------------------------------------------


def _host(topology: Topology, inputs: Mapping[str, Any]) -> HostRole:
    key = inputs.get("host")
    for h in host_roles(topology):
        if h.key == key:
            return h
    raise InterpretError(f"a ruleset is registered for host {key!r}, which this topology does not have")


def allowed(topology: Topology, resources: Sequence[Registration]) -> Iterable[Access]:
    rulesets = {r.urn: r for r in resources if r.type == RULESET_TYPE}
    for r in resources:
        # What the children put on disk or on the machines must be the very text that is interpreted.
        if r.type in CARRIER_TYPES and r.parent in rulesets and r.inputs.get("stdin") != rulesets[r.parent].inputs.get("ruleset"):
            raise InterpretError(f"{r.name} carries another ruleset than its parent {rulesets[r.parent].name}")
    out: list[Access] = []
    for r in rulesets.values():
        out += ruleset_accesses(str(r.inputs.get("ruleset", "")), _host(topology, r.inputs))
    return normalize(out)
