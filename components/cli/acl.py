"""``eksa-firewall acl``: every flow with concrete addresses, for whoever runs the physical firewalls (bare metal).

The table itself is built by ``components.baremetal.acl`` (pure); this module reads the stack and writes it.
"""

from __future__ import annotations

import argparse

from .common import EXIT_OK, CliError, add_stack_arguments, load_stack_args, stack_label, write_output


def run(args: argparse.Namespace) -> int:
    from ..baremetal.acl import TITLE, acl_flows, to_csv, to_markdown

    stack = load_stack_args(args)
    if stack.topology.platform != "baremetal":
        raise CliError(f"acl exports bare-metal stacks; {stack_label(args)} is {stack.topology.platform}")
    entries = acl_flows(stack.topology, stack.flows)
    write_output(args.output, to_csv(entries) if args.format == "csv" else to_markdown(entries, title=TITLE))
    return EXIT_OK


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("acl", help="bare metal: the flows with concrete addresses, for physical firewalls (CSV or Markdown)")
    add_stack_arguments(p)
    p.add_argument("--format", choices=("csv", "markdown"), default="csv")
    p.add_argument("--output", "-o", help="write to this file (its folder is made when missing) instead of standard output")
    p.set_defaults(func=run)
