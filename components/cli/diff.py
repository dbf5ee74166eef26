"""``eksa-firewall diff BASE.json HEAD.json``: two plans as the Markdown a reviewer reads in ten seconds.

What the comment holds and how replacements and exposures are judged: ``components.diff``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_FAILED, EXIT_OK, write_output


def run(args: argparse.Namespace) -> int:
    from ..diff import diff_plans, load_plan, render_markdown

    base = load_plan(Path(args.base), missing_ok=args.allow_missing)
    head = load_plan(Path(args.head), missing_ok=args.allow_missing)
    d = diff_plans(base, head)
    write_output(args.output, render_markdown(d))
    return EXIT_FAILED if args.fail_on_danger and d.dangerous else EXIT_OK


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "diff",
        help="two plans (plan --format json) as Markdown for a pull request",
        description="Compare two plan documents: addresses and ports each peer gains or loses per cluster and role, flows "
        "added and removed, resources created, updated, replaced and deleted, loud warnings on replacements and on "
        "rules open to anywhere, a Mermaid diagram.",
    )
    p.add_argument("base", help="the base plan (JSON from `eksa-firewall plan --format json`)")
    p.add_argument("head", help="the head plan")
    p.add_argument("--allow-missing", action="store_true", help="a missing file is an empty plan (a stack added or removed)")
    p.add_argument("--output", "-o", help="write the Markdown here (its folder is made when missing) instead of standard output")
    p.add_argument("--fail-on-danger", action="store_true", help="exit 1 when a resource is replaced or a rule opens to anywhere")
    p.set_defaults(func=run)
