"""``eksa-firewall diff BASE.json HEAD.json``: two plans as the Markdown a reviewer reads in ten seconds.

The input is two plan documents (``eksa-firewall plan --format json``, schema ``eksa-firewall/plan/v1``),
typically the base and head of a pull request. The output, in this order:

1. LOUD warnings (GitHub alert blocks): every resource that would be *replaced*, and every rule newly
   open to the whole Internet (``0.0.0.0/0`` or ``::/0``).
2. One summary line: flows added/removed, resources to create/update/replace/delete.
3. Flows added and removed, per cluster, sorted by the node role they touch (ports compared as sets,
   so widening ``6443`` to ``6443|8443`` shows only ``8443`` added).
4. The resources that change, and which of their inputs changed.
5. A Mermaid diagram of the changed flows (green: added, dashed red: removed).

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

Internet exposure: every string input that contains ``0.0.0.0/0`` or ``::/0`` as a token, and every
``{value: ..., prefixLength: 0}`` subnet (Nutanix), found in HEAD and not in BASE at the same resource
and rule, unless it is an egress or destination side (a path or ``type``/``direction`` saying egress,
outbound or destination): that only lets our machines reach out.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .mermaid import CLUSTER_ENDPOINTS, NODE_ROLES, Edge, render_flows
from .ports import PortSet, format_ports, parse_ports, subtract

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

WORLD_CIDRS = ("0.0.0.0/0", "::/0")
_WORLD_TOKEN = re.compile(r"(?<![0-9A-Fa-f.:/])(?:0\.0\.0\.0/0|::/0)(?![0-9])")
_OUTBOUND = re.compile(r"egress|outbound|^dest|destination", re.IGNORECASE)


# --- reading -------------------------------------------------------------------------------------


def empty_plan(stack: str = "(none)") -> dict[str, Any]:
    return {"schema": PLAN_SCHEMA, "project": "", "stack": stack, "resources": [], "outputs": {}, "flows": [], "local_only": []}


def load_plan(path: Path, *, missing_ok: bool = False) -> dict[str, Any]:
    """A plan document, checked for its schema. ``missing_ok``: a missing file is an empty plan (a new stack)."""
    if missing_ok and not path.exists():
        return empty_plan()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a plan document ({exc}); make one with `eksa-firewall plan --format json`") from exc
    if not isinstance(doc, dict) or doc.get("schema") != PLAN_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"{path}: schema is {found!r}, expected {PLAN_SCHEMA!r}; make it with `eksa-firewall plan --format json`")
    return doc


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


# --- Internet exposure ---------------------------------------------------------------------------


@dataclass(frozen=True, order=True, slots=True)
class Exposure:
    urn: str
    type: str
    name: str
    path: str  # where in the inputs, list positions dropped: ``ingress[].cidrBlocks[]``
    context: str  # the enclosing rule (or ruleset line), so a rule that changes is a new exposure


def _is_world_subnet(value: Mapping[str, Any]) -> bool:
    prefix = value.get("prefixLength", value.get("prefix_length"))
    return prefix in (0, 0.0) and isinstance(value.get("value"), str)


def _walk(value: Any, path: tuple[str, ...], rule: Any, outbound: bool) -> Iterator[tuple[tuple[str, ...], Any, bool]]:
    """(path, world-open value context, outbound?) for every world-open spot under ``value``."""
    if isinstance(value, Mapping):
        outbound = outbound or any(
            isinstance(value.get(k), str) and _OUTBOUND.search(str(value.get(k))) for k in ("type", "direction", "ruleType")
        )
        if _is_world_subnet(value):
            yield path, rule, outbound
            return
        for k in sorted(value):
            yield from _walk(value[k], (*path, str(k)), rule, outbound or bool(_OUTBOUND.search(str(k))))
    elif isinstance(value, list):
        for item in value:
            inner = item if isinstance(item, Mapping) and not _is_world_subnet(item) else rule
            yield from _walk(item, (*path[:-1], f"{path[-1]}[]") if path else ("[]",), inner, outbound)
    elif isinstance(value, str):
        for line in value.splitlines() or [value]:
            if _WORLD_TOKEN.search(line):
                yield path, line.strip() if "\n" in value else rule, outbound


def exposures(doc: Mapping[str, Any]) -> set[Exposure]:
    found: set[Exposure] = set()
    for r in doc.get("resources", []):
        inputs = r.get("inputs", {}) or {}
        egress_type = bool(_OUTBOUND.search(r["type"].rpartition(":")[2]))  # aws.vpc.SecurityGroupEgressRule
        for path, context, outbound in _walk(inputs, (), inputs, egress_type):
            if not outbound:
                found.add(Exposure(r["urn"], r["type"], r["name"], ".".join(path), _canonical(context)))
    return found


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

    @property
    def replaced(self) -> list[ResourceChange]:
        return [c for c in self.resources if c.kind == "replace"]

    @property
    def dangerous(self) -> bool:
        return bool(self.replaced or self.new_exposures)

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for c in self.resources if c.kind == kind)


def diff_plans(base: Mapping[str, Any], head: Mapping[str, Any]) -> PlanDiff:
    resources = diff_resources(base, head)
    touched = {c.urn for c in resources}
    base_exp, head_exp = exposures(base), exposures(head)
    base_keys = {(e.urn, e.path, e.context) for e in base_exp}
    new = sorted(e for e in head_exp if (e.urn, e.path, e.context) not in base_keys)
    base_out, head_out = base.get("outputs", {}), head.get("outputs", {})
    return PlanDiff(
        base_stack=str(base.get("stack", "")),
        head_stack=str(head.get("stack", "")),
        flows=diff_flows(base, head),
        resources=resources,
        new_exposures=new,
        kept_exposures=len(head_exp) - len(new),
        unchanged=len({r["urn"] for r in head.get("resources", [])} - touched),
        outputs_changed=sorted(k for k in set(base_out) | set(head_out) if base_out.get(k) != head_out.get(k)),
    )


def short_type(token: str) -> str:
    """``aws:ec2/securityGroupRule:SecurityGroupRule`` -> ``aws.ec2.SecurityGroupRule``; dynamic -> ``nsx.Rule (dynamic)``."""
    parts = token.split(":")
    if len(parts) != 3:
        return token
    pkg, mod, name = parts
    if pkg == "pulumi-python" and mod.startswith("dynamic"):
        sub = mod.partition("/")[2]
        return f"{sub + '.' if sub else ''}{name} (dynamic)"
    mod = mod.split("/")[0]
    return f"{pkg}.{name}" if mod == "index" else f"{pkg}.{mod}.{name}"


def _md(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _ports_cell(protocol: str, ports: str) -> str:
    text = ports.replace("|", ", ")
    return f"type {text}" if protocol == "icmp" else text


_FOLD_AFTER = 15


def _folded(summary: str, lines: list[str]) -> list[str]:
    """Long tables go in a <details> block, so the comment stays short."""
    if len(lines) - 2 <= _FOLD_AFTER:
        return lines
    return ["<details>", f"<summary>{summary}</summary>", "", *lines, "", "</details>"]


def render_markdown(d: PlanDiff) -> str:
    title = f"`{d.head_stack}`" if d.base_stack in (d.head_stack, "(none)") else f"`{d.base_stack}` → `{d.head_stack}`"
    out = [f"## eksa-firewall diff: {title}", ""]

    if d.replaced:
        out += ["> [!CAUTION]", f"> **{len(d.replaced)} {'RESOURCE' if len(d.replaced) == 1 else 'RESOURCES'} WILL BE REPLACED** "
                "(deleted and created again: the traffic they allow may be cut in between):"]  # fmt: skip
        for c in d.replaced:
            out.append(f"> - {_code(short_type(c.type))} **{_md(c.name)}**: {_md(', '.join(c.reasons))}")
        out.append("")
    if d.new_exposures:
        out += ["> [!WARNING]", f"> **OPEN TO THE WHOLE INTERNET** (0.0.0.0/0 or ::/0): {len(d.new_exposures)} new or changed rule(s):"]
        for e in d.new_exposures:
            ctx = e.context if len(e.context) <= 160 else e.context[:157] + "..."
            out.append(f"> - {_code(short_type(e.type))} **{_md(e.name)}** {_code(e.path)}: {_code(ctx)}")
        out.append("")

    if not (d.flows or d.resources or d.new_exposures or d.outputs_changed):
        return "\n".join([*out, f"No change: {d.unchanged} resources and every flow as in the base.", ""])
    added = sum(1 for f in d.flows if f.sign == "+")
    removed = len(d.flows) - added
    out.append(
        f"**Flows:** {added} added, {removed} removed · **Resources:** {d.count('create')} to create, "
        f"{d.count('update')} to update, {d.count('replace')} to replace, {d.count('delete')} to delete "
        f"({d.unchanged} unchanged)"
    )
    if d.kept_exposures:
        out += ["", f"Note: {d.kept_exposures} rule(s) open to the whole Internet are unchanged from the base."]
    if d.outputs_changed:
        out += ["", "Stack outputs changed: " + ", ".join(_code(k) for k in d.outputs_changed)]

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
        out += ["```mermaid", render_flows(sorted(edges)).rstrip("\n"), "```"]
    out += ["", "<sub>Offline plans from the mock engine: replacement is judged per type from the inputs "
            "(components/diff.py, REPLACE_ON); the `pulumi preview` comment has the last word.</sub>", ""]  # fmt: skip
    return "\n".join(out)


# --- command -------------------------------------------------------------------------------------


def cmd_diff(args: argparse.Namespace) -> int:
    base = load_plan(Path(args.base), missing_ok=args.allow_missing)
    head = load_plan(Path(args.head), missing_ok=args.allow_missing)
    d = diff_plans(base, head)
    text = render_markdown(d)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 1 if args.fail_on_danger and d.dangerous else 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "diff",
        help="two plans (plan --format json) as Markdown for a pull request",
        description="Compare two plan documents: flows added and removed, resources created, updated, replaced "
        "and deleted, loud warnings on replacements and on rules open to the whole Internet, a Mermaid diagram.",
    )
    p.add_argument("base", help="the base plan (JSON from `eksa-firewall plan --format json`)")
    p.add_argument("head", help="the head plan")
    p.add_argument("--allow-missing", action="store_true", help="a missing file is an empty plan (a stack added or removed)")
    p.add_argument("--output", "-o", help="write the Markdown here instead of standard output")
    p.add_argument("--fail-on-danger", action="store_true", help="exit 1 when a resource is replaced or a rule opens to the Internet")
    p.set_defaults(func=cmd_diff)
