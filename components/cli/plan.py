"""``eksa-firewall plan``: what `pulumi up` would create, offline (Pulumi's mock engine runs __main__.py).

Table and Markdown read top-down: a summary (resources by type, flows, what is reachable from outside the
environment), the flows, the resources sorted by type and name, the stack outputs last. Long values (rulesets,
bodies) are summarised with where to find them in full; plain-text tables fit the terminal unless ``--wide``.
``--format json`` is the ``eksa-firewall/plan/v1`` document (docs/cli.md); ``--format mermaid`` the flows as a
diagram (``--fence`` wraps it for Markdown).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from ..exposure import anywhere_families
from ..flows import FlowSet, endpoint_addresses
from ..reader import Network
from ..render import heading, paragraph, short_type, table, terminal_width
from ..topology import Topology
from .common import EXIT_OK, PLAN_SCHEMA, Stack, add_stack_arguments, load_stack_args

# Peers outside the environment: the client ranges a user lists. Everything else is the environment's own
# machines (nodes, admin machine, Jenkins, VIPs) or its platform's endpoints.
OUTSIDE = ("api-clients", "ssh-clients", "nodeport-clients", "jenkins-clients")
FLOWS_SENTENCE = "Each flow lets a source reach a destination of one cluster on a protocol and ports; the catalog rows say why."
LONG_VALUE = 100  # characters: an output longer than this (or on several lines) is summarised


def plan_document(stack: Stack) -> dict[str, Any]:
    """The ``eksa-firewall/plan/v1`` document of a stack (runs the program under the mock engine)."""
    from ..engine import run_stack  # imports the Pulumi SDK: only for commands that run the program

    run = run_stack(stack.config)
    return {
        "schema": PLAN_SCHEMA,
        "project": run.project,
        "stack": run.stack,
        # By URN: the engine receives registrations in an order that varies from run to run (each waits on its
        # inputs in the SDK's thread pool), and a plan must read the same each time it is made.
        "resources": [r.to_json() for r in sorted(run.resources, key=lambda r: r.urn)],
        "outputs": dict(run.outputs),
        "flows": [f.to_json() for f in stack.flows.flows],
        "local_only": [x.to_json() for x in stack.flows.local_only],
        **environment_fields(stack.topology, stack.flows),
    }


def environment_fields(topology: Topology, flows: FlowSet) -> dict[str, Any]:
    """``clusters`` (who manages whom) and ``endpoints`` (the ranges every endpoint of a cluster's flows stands
    for): what ``diff`` needs to name the addresses a change concerns, and ``mermaid`` to draw managing clusters."""
    used: dict[tuple[str, str], None] = {}
    for f in flows.flows:
        used[(f.cluster, f.source)] = None
        used[(f.cluster, f.destination)] = None
    return {
        "clusters": [{"name": c.name, "managedBy": c.managed_by} for c in sorted(topology.clusters, key=lambda c: c.name)],
        "endpoints": [
            {"cluster": c, "endpoint": e, "addresses": [str(n) for n in endpoint_addresses(topology, topology.cluster(c), e)]}
            for c, e in sorted(used)
        ],
    }


def run(args: argparse.Namespace) -> int:
    doc = plan_document(load_stack_args(args))
    if args.format == "json":
        print(json.dumps(doc, indent=2, sort_keys=False))
    elif args.format == "mermaid":
        from ..mermaid import render_plan

        text = render_plan(doc).rstrip("\n")
        print(f"```mermaid\n{text}\n```" if args.fence else text)
    else:
        print(render_text(doc, args.format, width=None if args.wide or args.format == "markdown" else terminal_width()))
    return EXIT_OK


# --- table and Markdown -------------------------------------------------------------------------------


def render_text(doc: Mapping[str, Any], fmt: str, *, width: int | None) -> str:
    """A plan document as a table (``fmt="table"``) or Markdown: summary, flows, resources, outputs."""
    resources = list(doc.get("resources") or [])
    flows = list(doc.get("flows") or [])
    names = {r["urn"]: r["name"] for r in resources}
    out = [heading(f"eksa-firewall plan {doc.get('stack')} (offline, Pulumi mock engine)", fmt, 1), ""]
    out += _summary(doc, fmt, width)
    out += ["", heading(f"Flows ({len(flows)})", fmt), ""]
    out.append(paragraph(FLOWS_SENTENCE, width))
    for cluster in sorted({str(f["cluster"]) for f in flows}):
        mine = [f for f in flows if f["cluster"] == cluster]
        out += ["", heading(f"cluster {cluster} ({len(mine)} flows)", fmt, 3), ""]
        out.append(
            table(
                ("from", "to", "ports", "catalog rows"),
                [(f["source"], f["destination"], f"{f['protocol']} {_ports(f)}", ", ".join(f["rows"])) for f in mine],
                fmt,
                width=width,
            )
        )
    local = list(doc.get("local_only") or [])
    if local:
        out += ["", heading("Local only (no rule needed)", fmt, 3), ""]
        out.append(table(("cluster", "row", "why"), [(x["cluster"], x["row"], x["why"]) for x in local], fmt, width=width))
    ordered = sorted(resources, key=lambda r: (short_type(r["type"]), r["name"], r["urn"]))
    out += ["", heading(f"Resources that `pulumi up` would register ({len(resources)}), by type and name", fmt), ""]
    out.append(
        table(
            ("type", "name", "parent"),
            [(short_type(r["type"]), r["name"], names.get(r.get("parent"), "-")) for r in ordered],
            fmt,
            width=width,
        )
    )
    out += ["", heading("Stack outputs", fmt), ""]
    out.append(table(("output", "value"), _outputs(doc.get("outputs") or {}), fmt, width=width))
    return "\n".join(out)


def _ports(flow: Mapping[str, Any]) -> str:
    ports = str(flow["ports"]).replace("|", ", ")
    return f"type {ports}" if flow["protocol"] == "icmp" else ports


def _summary(doc: Mapping[str, Any], fmt: str, width: int | None) -> list[str]:
    resources = list(doc.get("resources") or [])
    flows = list(doc.get("flows") or [])
    outputs = doc.get("outputs") or {}
    clusters = sorted({str(f["cluster"]) for f in flows})
    facts = []
    if outputs.get("platform"):
        facts.append(f"platform {outputs['platform']}" + (f", EKS-A {outputs['eksaVersion']}" if outputs.get("eksaVersion") else ""))
    facts += [
        f"{len(clusters)} cluster{'s' * (len(clusters) != 1)} ({', '.join(clusters)})",
        f"{len(flows)} flows",
        f"{len(resources)} resources",
    ]
    out = [heading("Summary", fmt), "", paragraph(" · ".join(facts), width), ""]
    counts = Counter(short_type(r["type"]) for r in resources)
    out += [table(("resource type", "count"), sorted(counts.items()), fmt, width=width), ""]
    out += [heading("Reachable from outside the environment", fmt, 3), ""]
    rows = _outside(doc)
    if rows:
        out.append(table(("from", "addresses", "reaches"), rows, fmt, width=width))
    else:
        out.append(
            paragraph("Nothing: no client ranges (clients.api, clients.ssh, clients.nodePort, Jenkins clients) are configured.", width)
        )
    return out


def _outside(doc: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    addresses = endpoint_networks(doc)
    reaches: dict[str, list[str]] = defaultdict(list)
    for f in doc.get("flows") or []:
        if f["source"] in OUTSIDE:
            reaches[f["source"]].append(f"{f['cluster']}: {f['destination']} {f['protocol']} {_ports(f)}")
    rows = []
    for source in OUTSIDE:
        if source not in reaches:
            continue
        nets = sorted({n for (_, e), ns in addresses.items() if e == source for n in ns}, key=_net_order)
        text = ", ".join(str(n) for n in nets) or "(not in this plan)"
        families = anywhere_families(nets)
        if families:
            text += f" — ANYWHERE ({', '.join(f'IPv{v}' for v in families)}: see docs/cli.md, exposure)"
        rows.append((source, text, "; ".join(reaches[source])))
    return rows


def endpoint_networks(doc: Mapping[str, Any]) -> dict[tuple[str, str], tuple[Network, ...]]:
    """(cluster, endpoint) -> networks, from a plan's ``endpoints`` (empty for a plan made before they existed)."""
    import ipaddress

    out: dict[tuple[str, str], tuple[Network, ...]] = {}
    for e in doc.get("endpoints") or []:
        out[(str(e["cluster"]), str(e["endpoint"]))] = tuple(ipaddress.ip_network(a, strict=False) for a in e.get("addresses") or [])
    return out


def _net_order(n: Network) -> tuple[int, int, int]:
    return (n.version, int(n.network_address), n.prefixlen)


def _outputs(outputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """One row per leaf (``vsphereRoleTags.mgmt.worker``); long values summarised with where to read them in full."""
    leaves = _flatten(outputs)
    files = {path.split(".", 1)[1]: value for path, value in leaves if path.split(".", 1)[0].endswith("Files") and "." in path}
    rows = []
    for path, value in leaves:
        if "\n" in value or len(value) > LONG_VALUE:
            lines = value.count("\n") + 1
            where = f"in full: plan --format json, outputs.{path}"
            rest = path.split(".", 1)[1] if "." in path else ""
            if rest in files:
                where += f"; written to {files[rest]} by pulumi up"
            value = f"({lines} lines, {len(value):,} characters; {where})" if lines > 1 else f"{value[: LONG_VALUE - 1]}… ({where})"
        rows.append((path, value))
    return rows


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, Mapping) and value:
        return [row for k, v in value.items() for row in _flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    return [(prefix, value if isinstance(value, str) else json.dumps(value, sort_keys=True))]


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "plan",
        help="what `pulumi up` would create, offline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stack_arguments(p)
    p.add_argument("--format", choices=("table", "markdown", "json", "mermaid"), default="table")
    p.add_argument("--wide", action="store_true", help="table: never wrap to the terminal's width")
    p.add_argument("--fence", action="store_true", help="mermaid: wrap the diagram in a ```mermaid fence, for Markdown")
    p.set_defaults(func=run)
