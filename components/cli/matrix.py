"""``eksa-firewall matrix``: the ports catalog as a table, for one platform and EKS-A version."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..catalog import LATEST_KNOWN_EKSA_VERSION, PLATFORMS, Row, format_version, load_catalog, parse_version
from ..endpoints import NODE_LOCAL
from ..platform import get_platform
from ..render import heading, table, terminal_width
from .common import EXIT_OK, CliError


def run(args: argparse.Namespace) -> int:
    try:
        version = parse_version(args.eksa_version) if args.eksa_version != "latest" else LATEST_KNOWN_EKSA_VERSION
    except ValueError as exc:
        raise CliError(f"--eksa-version: {exc}") from None
    rows = load_catalog().select(platform=args.platform, version=version)
    # A node's own pods are a source only where the firewall sits on the node (Platform.host_firewall).
    hidden = NODE_LOCAL if args.platform and not get_platform(args.platform).host_firewall else ()
    if args.format == "json":
        print(json.dumps([_row_json(r) for r in rows], indent=2))
        return EXIT_OK
    body = [
        (
            r.id,
            r.protocol_text,
            r.ports_text,
            ", ".join(w for w in r.sources if w not in hidden),
            ", ".join(r.destinations),
            _when(r) + (" (erratum)" if r.superseded_by else ""),
            r.purpose,
            "page" if r.origin == "page" else "beyond page",
        )
        for r in rows
    ]
    title = f"EKS Anywhere ports for {args.platform or 'every platform'}, EKS-A {format_version(version)}"
    width = None if args.wide or args.format == "markdown" else terminal_width()
    print(heading(title, args.format))
    print()
    print(table(("row", "proto", "ports", "from", "to", "when", "purpose", "source"), body, args.format, width=width))
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
            _when(r),
            (f"from {format_version(r.since)} " if r.since else "") + (f"before {format_version(r.until)}" if r.until else ""),
            "page" if r.origin == "page" else "beyond the page",
        )
        for r in load_catalog()
    ]
    headers = ("row", "table", "port", "Used By (page)", "from", "to", "platforms", "when", "EKS-A", "origin")
    return table(headers, body, "markdown")


def _when(r: Row) -> str:
    """The row's condition, and the add-on a cluster must list for it (``addon metrics-server``)."""
    if r.addon is None:
        return r.when
    return f"addon {r.addon}" if r.when == "always" else f"{r.when}, addon {r.addon}"


def _row_json(r: Row) -> dict[str, Any]:
    return {
        "id": r.id, "table": r.table, "origin": r.origin, "protocol": r.protocol, "direction": r.direction,
        "ports": r.ports_text, "purpose": r.purpose, "used_by": r.used_by, "sources": list(r.sources),
        "destinations": list(r.destinations), "platforms": list(r.platforms), "when": r.when,
        "since": format_version(r.since) if r.since else None, "until": format_version(r.until) if r.until else None,
        "citation": r.citation, "superseded_by": r.superseded_by, "addon": r.addon,
    }  # fmt: skip


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("matrix", help="the ports catalog as a table")
    p.add_argument("--platform", choices=PLATFORMS)
    p.add_argument("--eksa-version", default="latest", help="EKS-A release, e.g. v0.24 (default: latest known)")
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    p.add_argument("--wide", action="store_true", help="never wrap the table to the terminal's width")
    p.set_defaults(func=run)
