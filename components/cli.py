"""The ``eksa-firewall`` command line (also ``python -m components.cli``).

matrix   the ports catalog as a table, for one platform and EKS-A version
plan     run the Pulumi program offline under Pulumi's mock engine; print resources, outputs and flows
verify   read the rendered objects back into flows; exit 1 on any missing or excess flow
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .catalog import LATEST_KNOWN_EKSA_VERSION, PLATFORMS, format_version, load_catalog, parse_version
from .errors import ConfigError, EksaFirewallError
from .flows import FlowSet, build_flows
from .render import heading, table
from .stackfile import StackConfig, load_project, load_stack
from .topology import Topology, parse_topology

PLAN_SCHEMA = "eksa-firewall/plan/v1"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Modules with `add_parser(subparsers)` that add a command (each sets `func` to a function of args -> exit code).
EXTRA_COMMANDS = ("baremetal.probe", "baremetal.acl", "diff", "export.command", "vsphere.orphans")


# --- matrix --------------------------------------------------------------------------------------


def cmd_matrix(args: argparse.Namespace) -> int:
    version = parse_version(args.eksa_version) if args.eksa_version != "latest" else LATEST_KNOWN_EKSA_VERSION
    rows = load_catalog().select(platform=args.platform, version=version)
    if args.format == "json":
        print(json.dumps([_row_json(r) for r in rows], indent=2))
        return EXIT_OK
    body = [
        (
            r.id,
            r.protocol_text,
            r.ports_text,
            ", ".join(r.sources),
            ", ".join(r.destinations),
            r.when + (" (erratum)" if r.superseded_by else ""),
            r.purpose,
            "page" if r.origin == "page" else "beyond page",
        )
        for r in rows
    ]
    title = f"EKS Anywhere ports for {args.platform or 'every platform'}, EKS-A {format_version(version)}"
    print(heading(title, args.format))
    print()
    print(table(("row", "proto", "ports", "from", "to", "when", "purpose", "source"), body, args.format))
    return EXIT_OK


def catalog_reference() -> str:
    """The whole catalog as the Markdown table in docs/catalog.md (a test keeps the two equal)."""
    body = [
        (
            f"`{r.id}`",
            r.table,
            f"{r.protocol_text} {r.ports_text}",
            r.used_by,
            ", ".join(r.sources),
            ", ".join(r.destinations),
            ", ".join(r.platforms),
            r.when,
            (f"from {format_version(r.since)} " if r.since else "") + (f"before {format_version(r.until)}" if r.until else ""),
            "page" if r.origin == "page" else "beyond the page",
        )
        for r in load_catalog()
    ]
    headers = ("row", "table", "port", "Used By (page)", "from", "to", "platforms", "when", "EKS-A", "origin")
    return table(headers, body, "markdown")


def _row_json(r: Any) -> dict[str, Any]:
    return {
        "id": r.id, "table": r.table, "origin": r.origin, "protocol": r.protocol, "direction": r.direction,
        "ports": r.ports_text, "purpose": r.purpose, "used_by": r.used_by, "sources": list(r.sources),
        "destinations": list(r.destinations), "platforms": list(r.platforms), "when": r.when,
        "since": format_version(r.since) if r.since else None, "until": format_version(r.until) if r.until else None,
        "citation": r.citation, "superseded_by": r.superseded_by,
    }  # fmt: skip


# --- stacks ----------------------------------------------------------------------------------------


def load_stack_args(args: argparse.Namespace) -> tuple[StackConfig, Topology, FlowSet]:
    """The stack named by ``--stack``/``--stack-file`` (see ``add_stack_arguments``): config, topology, flows."""
    project = load_project(Path(args.project_dir))
    stack_file = Path(args.stack_file) if args.stack_file else None
    sc = load_stack(project, stack=args.stack, path=stack_file)

    def read_file(path: str) -> str:
        p = Path(path)
        return (p if p.is_absolute() else project.directory / p).read_text(encoding="utf-8")

    topology = parse_topology(sc.project_values(), key_prefix=f"{project.name}:", read_file=read_file)
    return sc, topology, build_flows(topology)


def plan_document(args: argparse.Namespace) -> dict[str, Any]:
    from .engine import run_stack  # imports the Pulumi SDK: only for commands that run the program

    sc, _topology, flows = load_stack_args(args)
    run = run_stack(sc)
    return {
        "schema": PLAN_SCHEMA,
        "project": run.project,
        "stack": run.stack,
        "resources": [r.to_json() for r in run.resources],
        "outputs": dict(run.outputs),
        "flows": [f.to_json() for f in flows.flows],
        "local_only": [x.to_json() for x in flows.local_only],
    }


def cmd_plan(args: argparse.Namespace) -> int:
    doc = plan_document(args)
    if args.format == "json":
        print(json.dumps(doc, indent=2, sort_keys=False))
        return EXIT_OK
    if args.format == "mermaid":
        from .mermaid import render_plan

        print(render_plan(doc))
        return EXIT_OK
    fmt = args.format
    names = {r["urn"]: r["name"] for r in doc["resources"]}
    out = [heading(f"eksa-firewall plan: {doc['project']} / {doc['stack']} (offline, Pulumi mock engine)", fmt, 1)]
    out += ["", heading(f"Resources that `pulumi up` would register ({len(doc['resources'])})", fmt)]
    out += ["", table(("type", "name", "parent"), [(r["type"], r["name"], names.get(r["parent"], "-")) for r in doc["resources"]], fmt)]
    out += ["", heading("Stack outputs", fmt), ""]
    out += [table(("output", "value"), _flatten(doc["outputs"]), fmt)]
    out += ["", heading(f"Flows ({len(doc['flows'])})", fmt), ""]
    out += [table(("cluster", "from", "to", "proto", "ports", "catalog rows"),
                  [(f["cluster"], f["source"], f["destination"], f["protocol"], f["ports"], ", ".join(f["rows"])) for f in doc["flows"]], fmt)]  # fmt: skip
    out += ["", heading("Local only (no rule needed)", fmt), ""]
    out += [table(("cluster", "row", "why"), [(x["cluster"], x["row"], x["why"]) for x in doc["local_only"]], fmt)]
    print("\n".join(out))
    return EXIT_OK


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested outputs as one line per leaf: ``vsphereRoleTags.mgmt.worker  urn:...``."""
    if isinstance(value, dict) and value:
        return [row for k, v in value.items() for row in _flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    return [(prefix, value if isinstance(value, str) else json.dumps(value, sort_keys=True))]


def cmd_verify(args: argparse.Namespace) -> int:
    from .engine import run_stack
    from .verify import verify

    sc, topology, flows = load_stack_args(args)
    run = run_stack(sc)
    report = verify(topology, flows, run.resources)
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(
            f"verify {sc.stack} ({report.platform}): {len(report.required)} required accesses, {len(report.allowed)} allowed by the rendered objects"
        )
        for label, items in (("MISSING", report.missing), ("EXCESS", report.excess)):
            for a in items:
                print(f"  {label}: {a.source} -> {a.destination} {a.protocol}/{a.ports}")
        print("OK: the rendered objects allow exactly the required flows" if report.ok else "FAILED")
    return EXIT_OK if report.ok else EXIT_FAILED


# --- entry point -----------------------------------------------------------------------------------


def add_stack_arguments(p: argparse.ArgumentParser) -> None:
    """``--stack NAME | --stack-file PATH`` and ``--project-dir``: for every command that reads a stack."""
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", help="stack name: reads stacks/Pulumi.<NAME>.yaml")
    which.add_argument("--stack-file", help="a stack file anywhere on disk")
    p.add_argument("--project-dir", default=".", help="directory holding Pulumi.yaml (default: .)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eksa-firewall", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("matrix", help="the ports catalog as a table")
    m.add_argument("--platform", choices=PLATFORMS)
    m.add_argument("--eksa-version", default="latest", help="EKS-A release, e.g. v0.24 (default: latest known)")
    m.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    m.set_defaults(func=cmd_matrix)
    pl = sub.add_parser("plan", help="what `pulumi up` would create, offline")
    add_stack_arguments(pl)
    pl.add_argument("--format", choices=("table", "markdown", "json", "mermaid"), default="table")
    pl.set_defaults(func=cmd_plan)
    v = sub.add_parser("verify", help="check the rendered objects against the required flows")
    add_stack_arguments(v)
    v.add_argument("--format", choices=("text", "json"), default="text")
    v.set_defaults(func=cmd_verify)
    for module in EXTRA_COMMANDS:  # commands that live beside their platform, imported only when present
        try:
            importlib.import_module(f"{__package__}.{module}").add_parser(sub)
        except ModuleNotFoundError as exc:
            wanted = f"{__package__}.{module}"
            if not (exc.name and (wanted == exc.name or wanted.startswith(exc.name + "."))):
                raise
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"eksa-firewall: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EksaFirewallError, ValueError) as exc:
        print(f"eksa-firewall: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
