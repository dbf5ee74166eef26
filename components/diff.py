"""``eksa-firewall diff BASE.json HEAD.json``: two plans as the Markdown a reviewer reads in ten seconds.

The input is two plan documents (``eksa-firewall plan --format json``, schema ``eksa-firewall/plan/v1``),
typically the base and head of a pull request. The output, in this order:

1. LOUD warnings (GitHub alert blocks): every resource that would be *replaced*, and every peer or rule newly
   open to anywhere (``components/exposure.py``: the union of a peer's ranges covers a whole address family,
   or more than a sixteenth of it).
2. One summary line: address ranges, flows and resources added, removed, changed.
3. Addresses and ports, per cluster and role: for each peer, the ranges that may now (or may no longer) reach
   the role, or that the role may reach, and on which ports. Computed from the plans' flows and ``endpoints``
   (the addresses each endpoint stands for); the changed side is in bold.
4. Flows added and removed, per cluster, sorted by the node role they touch (ports compared as sets,
   so widening ``6443`` to ``6443|8443`` shows only ``8443`` added).
5. The resources that change, and which of their inputs changed.
6. A Mermaid diagram of the changed flows (green: added, dashed red: removed).

How "replaced" is decided (a heuristic; ``pulumi preview`` has the last word)
-----------------------------------------------------------------------------
The plans come from the mock engine, not from the providers, so the provider's own diff is not known.
Resources are matched by URN:
- in HEAD only: *create*; in BASE only: *delete*;
- same URN, inputs differ: *replace* when a changed input is one the provider replaces on (``REPLACE_ON``
  below: the provider schemas' force-new / replace-on-changes properties, or what our own dynamic
  providers' ``diff`` replaces on; ``connection.host`` names one key of an object input), else *update*. A type missing from the table is
  shown as an update and flagged "not in the replace table";
- a deleted and a created resource of the same type with identical inputs: a *rename* (the logical name
  or the parent changed, so the URN did). Without an ``aliases`` option Pulumi deletes and recreates it:
  counted as a replacement.

Exposure, judged on unions of ranges (``components.exposure.anywhere_families``):
- per flow: a source endpoint whose ranges together count as anywhere, in HEAD and not in BASE for that
  cluster, destination, protocol and ports (needs the plans' ``endpoints``);
- per resource: the address ranges in one rule of a resource's inputs (one mapping of a list such as
  ``ingress[]``, one line of a ruleset, one ``{value, prefixLength}`` subnet list), taken together, unless it
  is an egress or destination side (a path or ``type``/``direction`` saying egress, outbound or destination:
  that only lets our machines reach out). This catches hand-made rules that no flow explains.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

from .errors import EksaFirewallError
from .exposure import anywhere_families
from .mermaid import CLUSTER_ENDPOINTS, NODE_ROLES, Edge, render_flows
from .ports import PortSet, format_ports, merge, parse_ports, subtract
from .reader import Network
from .render import short_type
from .stackfile import read_text

PLAN_SCHEMA = "eksa-firewall/plan/v1"
ChangeKind = Literal["create", "update", "replace", "delete"]

ALL_INPUTS = "*"  # every input replaces, except those named in the rule's ``except_``


@dataclass(frozen=True, slots=True)
class ReplaceRule:
    """The top-level inputs (engine names) whose change makes the provider replace the resource."""

    props: frozenset[str]
    except_: frozenset[str] = frozenset()
    source: str = ""

    def reasons(self, before: Mapping[str, Any], after: Mapping[str, Any], changed: Sequence[str]) -> tuple[str, ...]:
        """The replacing inputs among ``changed``; ``a.b`` names key ``b`` of object input ``a``."""
        if ALL_INPUTS in self.props:
            return tuple(p for p in changed if p not in self.except_)
        out: list[str] = []
        for p in sorted(self.props):
            top, _, sub = p.partition(".")
            if top not in changed:
                continue
            if not sub:
                out.append(p)
                continue
            old, new = before.get(top), after.get(top)
            old_v = old.get(sub) if isinstance(old, Mapping) else None
            new_v = new.get(sub) if isinstance(new, Mapping) else None
            if old_v != new_v:
                out.append(p)
        return tuple(out)


def _rule(*props: str, except_: Sequence[str] = (), source: str = "") -> ReplaceRule:
    return ReplaceRule(frozenset(props), frozenset(except_), source)


# Per resource type: the inputs that force a replacement. Keep in step with the provider versions pinned
# in requirements.txt, and with the `diff()` of our own dynamic providers.
REPLACE_ON: dict[str, ReplaceRule] = {
    # pulumi-aws 7 (Terraform aws_security_group): name, name_prefix, description and vpc_id are ForceNew.
    "aws:ec2/securityGroup:SecurityGroup": _rule("name", "namePrefix", "description", "vpcId", source="aws_security_group"),
    # aws_security_group_rule: every argument but description is ForceNew (no rule id to update in place).
    "aws:ec2/securityGroupRule:SecurityGroupRule": _rule(ALL_INPUTS, except_=("description",), source="aws_security_group_rule"),
    # aws_vpc_security_group_{ingress,egress}_rule: rules have ids and are modified in place; only the group moves.
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _rule("securityGroupId", source="aws_vpc_security_group_ingress_rule"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _rule("securityGroupId", source="aws_vpc_security_group_egress_rule"),
    # pulumi-vsphere 4: a tag cannot move to another category; a category's cardinality is fixed.
    "vsphere:index/tag:Tag": _rule("categoryId", source="vsphere_tag"),
    "vsphere:index/tagCategory:TagCategory": _rule("cardinality", source="vsphere_tag_category"),
    # pulumi-nutanix 0.18 (v4 API): a category is identified by key and value.
    "nutanix:index/categoryV2:CategoryV2": _rule("key", "value", source="nutanix_category_v2"),
    "nutanix:index/networkSecurityPolicyV2:NetworkSecurityPolicyV2": _rule(source="nutanix_network_security_policy_v2: updated in place"),
    "nutanix:index/addressGroupsV2:AddressGroupsV2": _rule(source="nutanix_address_groups_v2: updated in place"),
    "nutanix:index/serviceGroupsV2:ServiceGroupsV2": _rule(source="nutanix_service_groups_v2: updated in place"),
    # Our NSX dynamic resources (components/vsphere/nsx_provider.py, NsxProvider.diff): a new path or another
    # NSX Manager (connection host/port) is a new object; body, credentials and other connection keys update.
    **{
        f"pulumi-python:dynamic/nsx:{kind}": _rule("path", "connection.host", "connection.port", source="NsxProvider.diff")
        for kind in ("Group", "Service", "SecurityPolicy")
    },
    # pulumi-command 1: `triggers` is replace-on-changes; other changes re-run `update` (or `create`).
    "command:local:Command": _rule("triggers", source="pulumi-command"),
    "command:remote:Command": _rule("triggers", source="pulumi-command"),
    "command:remote:CopyToRemote": _rule("triggers", "remotePath", source="pulumi-command"),
}

# Our own components: the engine never replaces a component (its children carry the change).
_COMPONENT_PREFIX = "eksa-firewall:"

_OUTBOUND = re.compile(r"egress|outbound|^dest|destination", re.IGNORECASE)


# --- reading -------------------------------------------------------------------------------------


class PlanError(EksaFirewallError):
    """A file that is not a plan document, or a plan document with a field of the wrong shape."""


def empty_plan(stack: str = "(none)") -> dict[str, Any]:
    return {"schema": PLAN_SCHEMA, "project": "", "stack": stack, "resources": [], "outputs": {}, "flows": [], "local_only": []}


def load_plan(path: Path, *, missing_ok: bool = False) -> dict[str, Any]:
    """A plan document, checked field by field. ``missing_ok``: a missing file is an empty plan (a new stack)."""
    if missing_ok and not path.exists():
        return empty_plan()
    text = read_text(path, "plan document")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path}:{exc.lineno}:{exc.colno}: not a plan document ({exc.msg}); {_MAKE_ONE}") from None
    except RecursionError:
        raise PlanError(f"{path}: not a plan document (nested too deeply); {_MAKE_ONE}") from None
    return check_plan(doc, str(path))


_MAKE_ONE = "make one with `eksa-firewall plan --format json`"


def check_plan(doc: Any, where: str) -> dict[str, Any]:
    """``doc`` with every field the diff reads checked; ``null`` where a list or an object belongs reads as empty.

    Raises PlanError naming the field (``resources[3].inputs``) and what it should be."""
    if not isinstance(doc, dict) or doc.get("schema") != PLAN_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise PlanError(f"{where}: schema is {found!r}, expected {PLAN_SCHEMA!r}; {_MAKE_ONE}")

    def fail(field: str, expected: str, value: Any) -> NoReturn:
        raise PlanError(f"{where}: {field} must be {expected}, not {_json_type(value)}; {_MAKE_ONE}")

    def text(value: Any, field: str, *, optional: bool = False) -> Any:
        if isinstance(value, str) or (optional and value is None):
            return value
        fail(field, "a string" + (" or null" if optional else ""), value)

    def items(key: str) -> list[Any]:
        value = doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            fail(key, "a list", value)
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                fail(f"{key}[{i}]", "an object", item)
        return value

    out: dict[str, Any] = {**doc, "project": text(doc.get("project") or "", "project"), "stack": text(doc.get("stack") or "", "stack")}
    resources = []
    for i, r in enumerate(items("resources")):
        for k in ("urn", "type", "name"):
            text(r.get(k), f"resources[{i}].{k}")
        for k in ("id", "parent"):
            text(r.get(k), f"resources[{i}].{k}", optional=True)
        inputs = r.get("inputs")
        if inputs is not None and not isinstance(inputs, dict):
            fail(f"resources[{i}].inputs", "an object", inputs)
        resources.append({**r, "inputs": inputs or {}})
    out["resources"] = resources
    outputs = doc.get("outputs")
    if outputs is not None and not isinstance(outputs, dict):
        fail("outputs", "an object", outputs)
    out["outputs"] = outputs or {}
    flows = []
    for i, f in enumerate(items("flows")):
        for k in ("cluster", "source", "destination", "protocol", "ports"):
            text(f.get(k), f"flows[{i}].{k}")
        try:
            parse_ports(f["ports"])
        except ValueError as exc:
            raise PlanError(f"{where}: flows[{i}].ports: {exc}; {_MAKE_ONE}") from None
        rows = f.get("rows")
        if rows is not None and not (isinstance(rows, list) and all(isinstance(x, str) for x in rows)):
            fail(f"flows[{i}].rows", "a list of strings", rows)
        flows.append({**f, "rows": rows or []})
    out["flows"] = flows
    out["local_only"] = items("local_only")
    if doc.get("endpoints") is not None:
        endpoints = []
        for i, e in enumerate(items("endpoints")):
            text(e.get("cluster"), f"endpoints[{i}].cluster")
            text(e.get("endpoint"), f"endpoints[{i}].endpoint")
            addresses = e.get("addresses") or []
            if not isinstance(addresses, list):
                fail(f"endpoints[{i}].addresses", "a list", addresses)
            for j, a in enumerate(addresses):
                try:
                    ipaddress.ip_network(text(a, f"endpoints[{i}].addresses[{j}]"), strict=False)
                except ValueError:
                    raise PlanError(f"{where}: endpoints[{i}].addresses[{j}]: {a!r} is not an address range; {_MAKE_ONE}") from None
            endpoints.append({**e, "addresses": addresses})
        out["endpoints"] = endpoints
    if doc.get("clusters") is not None:
        for i, c in enumerate(items("clusters")):
            text(c.get("name"), f"clusters[{i}].name")
            text(c.get("managedBy"), f"clusters[{i}].managedBy", optional=True)
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


# --- flows ---------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True, slots=True)
class FlowChange:
    cluster: str
    role: str  # the node role the flow touches (destination first), or "peers"
    sign: Literal["+", "-"]
    source: str
    destination: str
    protocol: str
    ports: str
    rows: tuple[str, ...]


FlowKey = tuple[str, str, str, str]


def _flow_index(doc: Mapping[str, Any]) -> tuple[dict[FlowKey, PortSet], dict[FlowKey, tuple[str, ...]]]:
    ports: dict[FlowKey, PortSet] = {}
    rows: dict[FlowKey, tuple[str, ...]] = {}
    for f in doc.get("flows", []):
        key = (str(f["cluster"]), str(f["source"]), str(f["destination"]), str(f["protocol"]))
        ports[key] = parse_ports(str(f["ports"])) if key not in ports else parse_ports(format_ports(ports[key]) + "|" + str(f["ports"]))
        rows[key] = tuple(sorted({*rows.get(key, ()), *map(str, f.get("rows", []))}))
    return ports, rows


def _role(source: str, destination: str) -> str:
    """The cluster endpoint a flow touches: a node role first (destination before source), then a VIP."""
    for group in (NODE_ROLES, CLUSTER_ENDPOINTS):
        for endpoint in (destination, source):
            if endpoint in group:
                return endpoint
    return "peers"


def diff_flows(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[FlowChange]:
    base_ports, base_rows = _flow_index(base)
    head_ports, head_rows = _flow_index(head)
    out: list[FlowChange] = []
    for key in sorted(set(base_ports) | set(head_ports)):
        cluster, src, dst, proto = key
        added = subtract(head_ports.get(key, ()), base_ports.get(key, ()))
        removed = subtract(base_ports.get(key, ()), head_ports.get(key, ()))
        if added:
            out.append(FlowChange(cluster, _role(src, dst), "+", src, dst, proto, format_ports(added), head_rows[key]))
        if removed:
            out.append(FlowChange(cluster, _role(src, dst), "-", src, dst, proto, format_ports(removed), base_rows[key]))
    role_order = {r: i for i, r in enumerate((*CLUSTER_ENDPOINTS, "peers"))}
    return sorted(out, key=lambda c: (c.cluster, role_order.get(c.role, 9), c.sign, c.source, c.destination, c.protocol))


# --- addresses -----------------------------------------------------------------------------------

# The cluster's own endpoints, which a row is about ("role"); every other endpoint is the row's "peer".
ROLE_ENDPOINTS = (*NODE_ROLES, "control-plane-vip", "api-load-balancer")
Direction = Literal["in", "out"]
Changed = Literal["peer", "role", "ports"]
Networks = frozenset[Network]


@dataclass(frozen=True, order=True, slots=True)
class AddressChange:
    """Address ranges that may now (``+``) or may no longer (``-``) talk, for one cluster, role and peer."""

    cluster: str
    role: str
    peer: str
    direction: Direction  # in: the peer reaches the role; out: the role reaches the peer
    sign: Literal["+", "-"]
    changed: Changed  # which side is new or gone: the peer's ranges, the role's, or (same ranges) the ports
    peer_addresses: tuple[str, ...]
    role_addresses: tuple[str, ...]
    ports: tuple[tuple[str, str], ...]  # (protocol, ports text), protocols in tcp, udp, icmp order


def endpoint_index(doc: Mapping[str, Any]) -> dict[tuple[str, str], Networks] | None:
    """(cluster, endpoint) -> its ranges, from the plan's ``endpoints``; None for a plan made before they existed."""
    if doc.get("endpoints") is None:
        return None
    return {
        (str(e["cluster"]), str(e["endpoint"])): frozenset(ipaddress.ip_network(a, strict=False) for a in e["addresses"])
        for e in doc["endpoints"]
    }


def _orient(source: str, destination: str) -> tuple[str, str, Direction]:
    """(role, peer, direction): the cluster endpoint a flow touches, destination first."""
    if destination in ROLE_ENDPOINTS or source not in ROLE_ENDPOINTS:
        return destination, source, "in"
    return source, destination, "out"


def addresses_comparable(base: Mapping[str, Any], head: Mapping[str, Any]) -> bool:
    """Both plans say which addresses each endpoint stands for (an empty base, a new stack, needs nothing)."""
    return endpoint_index(head) is not None and (endpoint_index(base) is not None or not base.get("flows"))


def diff_addresses(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[AddressChange]:
    """Per flow (cluster, source, destination, protocol), the address-level accesses added and removed, as
    rectangles: new source ranges x every destination range x every port; kept sources x new destinations x every
    port; kept pairs x new ports (and the same for what was removed). Empty when not ``addresses_comparable``."""
    if not addresses_comparable(base, head):
        return []
    b_nets, h_nets = endpoint_index(base) or {}, endpoint_index(head) or {}
    b_ports, _ = _flow_index(base)
    h_ports, _ = _flow_index(head)
    grouped: dict[tuple[Any, ...], list[tuple[str, PortSet]]] = defaultdict(list)
    for key in sorted(set(b_ports) | set(h_ports)):
        cluster, src, dst, proto = key
        role, peer, direction = _orient(src, dst)
        old = (b_nets.get((cluster, src), frozenset()), b_nets.get((cluster, dst), frozenset()), b_ports.get(key, ()))
        new = (h_nets.get((cluster, src), frozenset()), h_nets.get((cluster, dst), frozenset()), h_ports.get(key, ()))
        for sign, (s1, d1, p1), (s0, d0, p0) in (("+", new, old), ("-", old, new)):
            for sources, destinations, ports, changed_side in (
                (s1 - s0, d1, p1, "source"),
                (s1 & s0, d1 - d0, p1, "destination"),
                (s1 & s0, d1 & d0, subtract(p1, p0), "ports"),
            ):
                if not (sources and destinations and ports):
                    continue
                peer_nets, role_nets = (sources, destinations) if direction == "in" else (destinations, sources)
                changed: Changed = (
                    "ports" if changed_side == "ports" else ("peer" if (changed_side == "source") == (direction == "in") else "role")
                )
                group = (cluster, role, peer, direction, sign, changed, _texts(peer_nets), _texts(role_nets))
                grouped[group].append((proto, ports))
    out = [AddressChange(*group, ports=_merge_ports(parts)) for group, parts in grouped.items()]
    order = {r: i for i, r in enumerate(ROLE_ENDPOINTS)}
    return sorted(out, key=lambda c: (c.cluster, order.get(c.role, 9), c.role, c.peer, c.direction, c.sign, c.changed, c.peer_addresses))


def _texts(nets: Networks) -> tuple[str, ...]:
    return tuple(str(n) for n in sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen)))


_PROTOCOL_ORDER = {"tcp": 0, "udp": 1, "icmp": 2}


def _merge_ports(parts: list[tuple[str, PortSet]]) -> tuple[tuple[str, str], ...]:
    by_protocol: dict[str, list[Any]] = defaultdict(list)
    for proto, ports in parts:
        by_protocol[proto].extend(ports)
    return tuple(
        (proto, format_ports(merge(by_protocol[proto]))) for proto in sorted(by_protocol, key=lambda p: (_PROTOCOL_ORDER.get(p, 9), p))
    )


def address_counts(base: Mapping[str, Any], head: Mapping[str, Any]) -> tuple[int, int]:
    """Ranges added and removed across the endpoints (a node role's ranges per cluster, a shared peer's once)."""
    if not addresses_comparable(base, head):
        return 0, 0

    def keyed(doc: Mapping[str, Any]) -> set[tuple[str, str, Network]]:
        return {
            (cluster if endpoint in ROLE_ENDPOINTS else "", endpoint, net)
            for (cluster, endpoint), nets in (endpoint_index(doc) or {}).items()
            for net in nets
        }

    b, h = keyed(base), keyed(head)
    return len(h - b), len(b - h)


# --- resources -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceChange:
    kind: ChangeKind
    urn: str
    type: str
    name: str
    changed: tuple[str, ...] = ()  # top-level inputs that differ
    reasons: tuple[str, ...] = ()  # the ones that force the replacement, or why
    known_type: bool = True  # False: the type is not in REPLACE_ON


def _changed_inputs(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def diff_resources(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[ResourceChange]:
    before = {r["urn"]: r for r in base.get("resources", [])}
    after = {r["urn"]: r for r in head.get("resources", [])}
    out: list[ResourceChange] = []
    created = [after[u] for u in sorted(set(after) - set(before))]
    deleted = [before[u] for u in sorted(set(before) - set(after))]
    # A deleted and a created resource of one type with the same inputs: the URN changed (rename or new parent).
    by_shape: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in deleted:
        by_shape.setdefault((r["type"], _canonical(r.get("inputs", {}))), []).append(r)
    renamed: set[str] = set()
    for r in created:
        if r["type"].startswith(_COMPONENT_PREFIX):
            continue
        candidates = by_shape.get((r["type"], _canonical(r.get("inputs", {}))))
        if candidates:
            old = candidates.pop(0)
            renamed |= {old["urn"], r["urn"]}
            why = (
                f"URN changed (was `{old['name']}`"
                + (", new parent" if old.get("parent") != r.get("parent") else "")
                + "): add `aliases` to keep it"
            )
            out.append(ResourceChange("replace", r["urn"], r["type"], r["name"], (), (why,)))
    out += [ResourceChange("create", r["urn"], r["type"], r["name"]) for r in created if r["urn"] not in renamed]
    out += [ResourceChange("delete", r["urn"], r["type"], r["name"]) for r in deleted if r["urn"] not in renamed]
    for urn in sorted(set(before) & set(after)):
        b, h = before[urn], after[urn]
        changed = _changed_inputs(b.get("inputs", {}), h.get("inputs", {}))
        if not changed:
            continue
        rule = REPLACE_ON.get(h["type"])
        reasons = rule.reasons(b.get("inputs", {}), h.get("inputs", {}), changed) if rule else ()
        known = rule is not None or h["type"].startswith(_COMPONENT_PREFIX)  # our components are never replaced
        out.append(ResourceChange("replace" if reasons else "update", urn, h["type"], h["name"], changed, reasons, known))
    order = {"replace": 0, "delete": 1, "create": 2, "update": 3}
    return sorted(out, key=lambda c: (order[c.kind], c.type, c.name, c.urn))


# --- exposure ------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True, slots=True)
class Exposure:
    """A rule in a resource's inputs whose address ranges, together, count as anywhere."""

    urn: str
    type: str
    name: str
    path: str  # where in the inputs, list positions dropped: ``ingress[].cidrBlocks[]``
    context: str  # the enclosing rule (or ruleset line), so a rule that changes is a new exposure
    families: tuple[int, ...] = ()


@dataclass(frozen=True, order=True, slots=True)
class PeerExposure:
    """A flow whose source's ranges, together, count as anywhere (new in HEAD, or on new ports)."""

    cluster: str
    source: str
    destination: str
    protocol: str
    ports: str
    families: tuple[int, ...]
    addresses: tuple[str, ...]


_CIDR_TOKEN = re.compile(r"(?<![0-9A-Za-z.:/])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*)/\d{1,3}(?![0-9])")


def _networks_in(text: str) -> list[Network]:
    out: list[Network] = []
    for token in _CIDR_TOKEN.findall(text):
        try:
            out.append(ipaddress.ip_network(token, strict=False))
        except ValueError:
            continue
    return out


def _subnet(value: Mapping[str, Any]) -> Network | None:
    """A ``{value: "10.0.0.0", prefixLength: 8}`` subnet (Nutanix), as a network."""
    prefix = value.get("prefixLength", value.get("prefix_length"))
    address = value.get("value")
    if not isinstance(address, str) or not isinstance(prefix, int | float) or isinstance(prefix, bool):
        return None
    try:
        return ipaddress.ip_network(f"{address}/{int(prefix)}", strict=False)
    except ValueError:
        return None


def _walk(value: Any, path: tuple[str, ...], rule: Any, outbound: bool) -> Iterator[tuple[tuple[str, ...], Any, bool, Network]]:
    """(path, enclosing rule, outbound?, range) for every address range under ``value``."""
    if isinstance(value, Mapping):
        outbound = outbound or any(
            isinstance(value.get(k), str) and _OUTBOUND.search(str(value.get(k))) for k in ("type", "direction", "ruleType")
        )
        net = _subnet(value)
        if net is not None:
            yield path, rule, outbound, net
            return
        for k in sorted(value, key=str):
            yield from _walk(value[k], (*path, str(k)), rule, outbound or bool(_OUTBOUND.search(str(k))))
    elif isinstance(value, list):
        for item in value:
            inner = item if isinstance(item, Mapping) and _subnet(item) is None else rule
            yield from _walk(item, (*path[:-1], f"{path[-1]}[]") if path else ("[]",), inner, outbound)
    elif isinstance(value, str):
        lines = value.splitlines() or [value]
        for line in lines:
            for net in _networks_in(line):
                yield path, line.strip() if len(lines) > 1 else rule, outbound, net


def exposures(doc: Mapping[str, Any]) -> set[Exposure]:
    """Every inbound rule whose ranges, taken together, count as anywhere (``components.exposure``)."""
    found: set[Exposure] = set()
    for r in doc.get("resources", []):
        inputs = r.get("inputs") or {}
        egress_type = bool(_OUTBOUND.search(r["type"].rpartition(":")[2]))  # aws.vpc.SecurityGroupEgressRule
        rules: dict[tuple[str, str], list[Network]] = defaultdict(list)
        for path, context, outbound, net in _walk(inputs, (), inputs, egress_type):
            if not outbound:
                rules[(".".join(path), _canonical(context))].append(net)
        for (path, context), nets in rules.items():
            families = anywhere_families(nets)
            if families:
                found.add(Exposure(r["urn"], r["type"], r["name"], path, context, families))
    return found


def peer_exposures(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[PeerExposure]:
    """Flows of HEAD whose source counts as anywhere and that BASE did not open so (or on fewer ports)."""

    def opened(doc: Mapping[str, Any]) -> dict[tuple[str, str, str, str], tuple[PortSet, tuple[int, ...], Networks]]:
        nets = endpoint_index(doc) or {}
        ports, _ = _flow_index(doc)
        out = {}
        for (cluster, src, dst, proto), p in ports.items():
            source = nets.get((cluster, src), frozenset())
            families = anywhere_families(source)
            if families:
                out[(cluster, src, dst, proto)] = (p, families, source)
        return out

    before = opened(base)
    new: list[PeerExposure] = []
    for key, (ports, families, source) in sorted(opened(head).items()):
        old_ports, old_families, _ = before.get(key, ((), (), frozenset()))
        added = ports if set(families) - set(old_families) else subtract(ports, old_ports)
        if added:
            new.append(PeerExposure(*key, format_ports(added), families, _texts(source)))
    return new


# --- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanDiff:
    base_stack: str
    head_stack: str
    flows: list[FlowChange]
    resources: list[ResourceChange]
    new_exposures: list[Exposure]
    kept_exposures: int  # already open in BASE, unchanged
    unchanged: int
    outputs_changed: list[str] = field(default_factory=list)
    addresses: list[AddressChange] = field(default_factory=list)
    addresses_known: bool = True  # False: a plan without `endpoints` (made by an older eksa-firewall)
    ranges_added: int = 0
    ranges_removed: int = 0
    new_peer_exposures: list[PeerExposure] = field(default_factory=list)
    managers: Mapping[str, str] = field(default_factory=dict)  # workload cluster -> its management cluster

    @property
    def replaced(self) -> list[ResourceChange]:
        return [c for c in self.resources if c.kind == "replace"]

    @property
    def dangerous(self) -> bool:
        return bool(self.replaced or self.new_exposures or self.new_peer_exposures)

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for c in self.resources if c.kind == kind)


def managers(*docs: Mapping[str, Any]) -> dict[str, str]:
    """Workload cluster -> management cluster, from the plans' ``clusters`` (later documents win)."""
    return {str(c["name"]): str(c["managedBy"]) for doc in docs for c in doc.get("clusters") or [] if c.get("managedBy")}


def diff_plans(base: Mapping[str, Any], head: Mapping[str, Any]) -> PlanDiff:
    resources = diff_resources(base, head)
    touched = {c.urn for c in resources}
    base_exp, head_exp = exposures(base), exposures(head)
    base_keys = {(e.urn, e.path, e.context) for e in base_exp}
    new = sorted(e for e in head_exp if (e.urn, e.path, e.context) not in base_keys)
    base_out, head_out = base.get("outputs", {}), head.get("outputs", {})
    added, removed = address_counts(base, head)
    return PlanDiff(
        base_stack=str(base.get("stack", "")),
        head_stack=str(head.get("stack", "")),
        flows=diff_flows(base, head),
        resources=resources,
        new_exposures=new,
        kept_exposures=len(head_exp) - len(new),
        unchanged=len({r["urn"] for r in head.get("resources", [])} - touched),
        outputs_changed=sorted(k for k in set(base_out) | set(head_out) if base_out.get(k) != head_out.get(k)),
        addresses=diff_addresses(base, head),
        addresses_known=addresses_comparable(base, head),
        ranges_added=added,
        ranges_removed=removed,
        new_peer_exposures=peer_exposures(base, head),
        managers=managers(base, head),
    )


def _md(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _ports_cell(protocol: str, ports: str) -> str:
    text = ports.replace("|", ", ")
    return f"type {text}" if protocol == "icmp" else text


def _families(families: Sequence[int]) -> str:
    return " and ".join(f"IPv{v}" for v in families)


_FOLD_AFTER = 15
_SHOWN_RANGES = 4  # an unchanged side lists this many ranges, then "+N more"


def _folded(summary: str, lines: list[str]) -> list[str]:
    """Long tables go in a <details> block, so the comment stays short."""
    if len(lines) - 2 <= _FOLD_AFTER:
        return lines
    return ["<details>", f"<summary>{summary}</summary>", "", *lines, "", "</details>"]


def _ranges(nets: Sequence[str], changed: bool) -> str:
    """The changed side in full and in bold; an unchanged side shortened when long."""
    if changed:
        return "**" + _md(", ".join(nets)) + "**"
    shown = ", ".join(nets[:_SHOWN_RANGES])
    return _md(shown + (f" (+{len(nets) - _SHOWN_RANGES} more)" if len(nets) > _SHOWN_RANGES else ""))


def _address_table(changes: list[AddressChange]) -> list[str]:
    lines = ["| | role | peer | peer ranges | role ranges | ports |", "|---|---|---|---|---|---|"]
    for c in changes:
        sign = "➕" if c.sign == "+" else "➖"
        peer = f"← {c.peer}" if c.direction == "in" else f"→ {c.peer}"
        ports = " · ".join(f"{proto} {_ports_cell(proto, text)}" for proto, text in c.ports)
        ports = f"**{_md(ports)}**" if c.changed == "ports" else _md(ports)
        cells = (
            sign,
            _md(c.role),
            _md(peer),
            _ranges(c.peer_addresses, c.changed == "peer"),
            _ranges(c.role_addresses, c.changed == "role"),
            ports,
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(d: PlanDiff) -> str:
    title = f"`{d.head_stack}`" if d.base_stack in (d.head_stack, "(none)") else f"`{d.base_stack}` → `{d.head_stack}`"
    out = [f"## eksa-firewall diff: {title}", ""]

    if d.replaced:
        out += ["> [!CAUTION]", f"> **{len(d.replaced)} {'RESOURCE' if len(d.replaced) == 1 else 'RESOURCES'} WILL BE REPLACED** "
                "(deleted and created again: the traffic they allow may be cut in between):"]  # fmt: skip
        for c in d.replaced:
            out.append(f"> - {_code(short_type(c.type))} **{_md(c.name)}**: {_md(', '.join(c.reasons))}")
        out.append("")
    if d.new_exposures or d.new_peer_exposures:
        count = len(d.new_exposures) + len(d.new_peer_exposures)
        out += ["> [!WARNING]", f"> **OPEN TO ANYWHERE**: {count} new or widened (ranges that together cover a whole address "
                "family, or more than a sixteenth of it):"]  # fmt: skip
        for x in d.new_peer_exposures:
            ranges = ", ".join(x.addresses[:_SHOWN_RANGES]) + (" …" if len(x.addresses) > _SHOWN_RANGES else "")
            out.append(
                f"> - cluster {_code(x.cluster)}: **{_md(x.source)}** ({_code(ranges)}: {_families(x.families)}) may reach "
                f"**{_md(x.destination)}** on {x.protocol} {_md(_ports_cell(x.protocol, x.ports))}"
            )
        for e in d.new_exposures:
            ctx = e.context if len(e.context) <= 160 else e.context[:157] + "..."
            out.append(f"> - {_code(short_type(e.type))} **{_md(e.name)}** {_code(e.path)} ({_families(e.families)}): {_code(ctx)}")
        out.append("")

    if not (d.flows or d.resources or d.new_exposures or d.outputs_changed or d.addresses):
        return "\n".join([*out, f"No change: {d.unchanged} resources and every flow as in the base.", ""])
    added = sum(1 for f in d.flows if f.sign == "+")
    removed = len(d.flows) - added
    ranges = f"**Address ranges:** {d.ranges_added} added, {d.ranges_removed} removed · " if d.addresses_known else ""
    out.append(
        f"{ranges}**Flows:** {added} added, {removed} removed · **Resources:** {d.count('create')} to create, "
        f"{d.count('update')} to update, {d.count('replace')} to replace, {d.count('delete')} to delete "
        f"({d.unchanged} unchanged)"
    )
    if d.kept_exposures:
        out += ["", f"Note: {d.kept_exposures} rule(s) open to anywhere are unchanged from the base."]
    if d.outputs_changed:
        out += ["", "Stack outputs changed: " + ", ".join(_code(k) for k in d.outputs_changed)]

    out += ["", "### Addresses and ports, per cluster and role", ""]
    if not d.addresses_known:
        out.append("Not shown: a plan has no `endpoints` (it was made by an older eksa-firewall); make both plans with this version.")
    elif not d.addresses:
        out.append("No address or port changes.")
    else:
        out.append("Which ranges may now (➕) or may no longer (➖) talk, on which ports; the changed side is in **bold**.")
    for cluster in sorted({c.cluster for c in d.addresses}):
        rows = [c for c in d.addresses if c.cluster == cluster]
        out += ["", f"#### cluster {_code(cluster)}", "", *_folded(f"{len(rows)} address changes in {cluster}", _address_table(rows))]

    out += ["", "### Flows added and removed", ""]
    if not d.flows:
        out.append("No flow changes.")
    for n, cluster in enumerate(sorted({f.cluster for f in d.flows})):
        out += [""] if n else []
        rows = [f for f in d.flows if f.cluster == cluster]
        table = ["| | role | from | to | proto | ports | catalog rows |", "|---|---|---|---|---|---|---|"]
        for f in rows:
            sign = "➕" if f.sign == "+" else "➖"
            cells = (sign, f.role, f.source, f.destination, f.protocol, _ports_cell(f.protocol, f.ports), ", ".join(f.rows))
            table.append("| " + " | ".join(_md(c) for c in cells) + " |")
        out += [f"#### cluster {_code(cluster)}", "", *_folded(f"{len(rows)} flow changes in {cluster}", table)]

    out += ["", "### Resources", ""]
    if not d.resources:
        out.append("No resource changes.")
    else:
        table = ["| change | type | name | inputs changed |", "|---|---|---|---|"]
        for c in d.resources:
            detail = ", ".join(f"**{_code(p)}** (forces replacement)" if p in c.reasons else _code(p) for p in c.changed)
            if c.kind == "replace" and not c.changed:  # a rename: the reason is the whole story
                detail = _md(", ".join(c.reasons))
            elif c.kind == "update" and not c.known_type:
                detail += " (type not in the replace table: check the preview)"
            kind = {"replace": "**REPLACE**", "delete": "delete", "create": "create", "update": "update"}[c.kind]
            table.append(f"| {kind} | {_code(short_type(c.type))} | {_md(c.name)} | {detail} |")
        out += _folded(f"{len(d.resources)} resource changes", table)

    out += ["", "### Changed flows", ""]
    if not d.flows:
        out.append("No flow changes to draw.")
    else:
        edges = [Edge(f.cluster, f.source, f.destination, f.protocol, f.ports, "added" if f.sign == "+" else "removed") for f in d.flows]
        out += ["```mermaid", render_flows(sorted(edges), managers=d.managers).rstrip("\n"), "```"]
    out += ["", "<sub>Offline plans from the mock engine: replacement is judged per type from the inputs "
            "(components/diff.py, REPLACE_ON); the `pulumi preview` comment has the last word.</sub>", ""]  # fmt: skip
    return "\n".join(out)
