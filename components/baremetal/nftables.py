"""Render a RulesetSpec as an nftables script for `nft -f`.

The script replaces one table atomically and idempotently, and touches nothing else:

    table inet eksa_firewall {}        # create it if it does not exist (a no-op otherwise)
    delete table inet eksa_firewall    # so that this delete never fails
    table inet eksa_firewall { ... }   # the new content

`nft -f` runs the whole file as one transaction: either the new table replaces the old one, or nothing
changes. Other tables (iptables-nft, Docker, kube-proxy, Cilium) are never touched: no `flush ruleset`.

Default policy (documented in docs/platforms/baremetal.md): the input chain drops every packet that is not
a reply (`ct state established,related`), loopback, or one of the required flows. `forward` and `output`
are not filtered: Kubernetes (kube-proxy, Cilium) and Docker on the admin machine forward traffic, and
the outbound flows (Rufio to the BMCs, nodes to the API) are enforced where they arrive.
"""

from __future__ import annotations

from functools import cache

from ..icmp import NAMES_V4, NAMES_V6, icmpv6_type
from ..ports import PortSet
from .hosts import LIMITED_BROADCAST
from .planner import AddressSet, Rule, RulesetSpec, address

# ICMP types the catalog names (IPv4 numbering) and their names in nft; IPv6 uses ICMPv6's numbers.
# IPv6 needs neighbour discovery to work at all; only link-local senders use hop limit 255 (RFC 4861).
ND_RULE = "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } ip6 hoplimit 255 accept"


def _elements(values: list[str]) -> str:
    return values[0] if len(values) == 1 else "{ " + ", ".join(values) + " }"


@cache
def _ports(ports: PortSet) -> str:
    return _elements([str(r) for r in ports])


def _icmp(rule: Rule) -> str:
    if rule.version == 4:
        types = [t for r in rule.ports for t in range(r.lo, r.hi + 1)]
        return "icmp type " + _elements([NAMES_V4.get(t, str(t)) for t in types])
    types6 = [icmpv6_type(t) for r in rule.ports for t in range(r.lo, r.hi + 1)]
    return "icmpv6 type " + _elements([NAMES_V6[t] for t in types6])


def render_rule(rule: Rule) -> str:
    fam = "ip" if rule.version == 4 else "ip6"
    # An anonymous set cannot reference a named one: a broadcast rule names its destinations inline.
    dst = f"{{ {rule.destination.text}, {address(LIMITED_BROADCAST)} }}" if rule.broadcast else f"@{rule.destination.name}"
    what = _icmp(rule) if rule.protocol == "icmp" else f"{rule.protocol} dport {_ports(rule.ports)}"
    return f'{fam} saddr @{rule.source.name} {fam} daddr {dst} {what} accept comment "{rule.comment}"'


def render_set(s: AddressSet) -> list[str]:
    kind = "ipv4_addr" if s.version == 4 else "ipv6_addr"
    return [
        f"\tset {s.name} {{",
        f"\t\ttype {kind}",
        "\t\tflags interval",
        "\t\tauto-merge",
        f"\t\telements = {{ {s.text} }}",
        "\t}",
    ]


def default_verdict(action: str) -> list[str]:
    if action == "reject":
        # After every accept: refuse instead of staying silent (faster failures for clients and `probe`).
        return ["\t\treject with icmpx type admin-prohibited"]
    return []


def render(spec: RulesetSpec) -> str:
    host = spec.host
    where = "the admin machine" if host.cluster is None else f"cluster {host.cluster}, {host.role} machines"
    lines = [
        f"# eksa-firewall: nftables ruleset for {where} (EKS Anywhere {spec.eksa_version})",
        f"# Machines: {', '.join(address(n) for n in host.machines)}"
        + (f"; virtual IPs held: {', '.join(address(n) for n in host.vips)}" if host.vips else ""),
        f"# Load with `nft -f FILE`: replaces table inet {spec.table} in one transaction and touches no other table.",
        f"# Default policy: inbound packets not accepted below are {'rejected' if spec.default_action == 'reject' else 'dropped'}; "
        "output and forward are not filtered.",
        f"table inet {spec.table} {{}}",
        f"delete table inet {spec.table}",
        f"table inet {spec.table} {{",
    ]
    for s in spec.sets:
        lines += render_set(s)
    lines += [
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        "\t\tct state established,related accept",
        "\t\tct state invalid drop",
        "\t\tiif lo accept",
    ]
    if spec.ipv6:
        lines.append(f"\t\t{ND_RULE}")
    lines += [f"\t\t{render_rule(r)}" for r in spec.rules]
    lines += default_verdict(spec.default_action)
    lines += ["\t}", "}"]
    return "\n".join(lines) + "\n"


def delete_script(table: str) -> str:
    """Remove our table if it exists; succeeds when it does not (idempotent delete)."""
    return f"table inet {table} {{}}\ndelete table inet {table}\n"
