"""``eksa-firewall export --stack NAME --format aerleon [-o DIR]``: the flows as Aerleon files.

Offline, from the stack's config alone (like ``acl``): no Pulumi, no Aerleon. The files go under DIR laid out
like an Aerleon repository (``def/``, ``policies/``); see docs/export.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..export.aerleon import DEFAULT_ACTIONS, DEFAULT_PREFIX, AerleonOptions, aerleon_files, parse_segment, paths
from .common import EXIT_OK, add_stack_arguments, load_stack_args


def cmd_export(args: argparse.Namespace) -> int:
    sc, topology, flows = load_stack_args(args)
    options = AerleonOptions(
        name=args.name or f"eksa-{sc.stack}".lower(),
        prefix=args.prefix,
        segment=parse_segment(args.segment),
        default_action=args.default_action,
    )
    files = aerleon_files(topology, flows, options)
    out = Path(args.output_dir or Path("build") / "aerleon" / sc.stack)
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)
    # A family that has no flows any more: its terms file would only mislead.
    for kind in ("ipv4", "ipv6"):
        stale = out / paths(options.name)[kind]
        if stale.as_posix() not in {(out / r).as_posix() for r in files} and stale.exists():
            stale.unlink()
            print(f"removed {stale}", file=sys.stderr)
    return EXIT_OK


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("export", help="the flows for other tools: Aerleon network, service and policy files (docs/export.md)")
    add_stack_arguments(p)
    p.add_argument("--format", choices=("aerleon",), default="aerleon", help="what to write (default: aerleon)")
    p.add_argument("-o", "--output-dir", help="the Aerleon repository to write into (default: build/aerleon/<stack>)")
    p.add_argument("--name", help="base name of the files, the policy and the ASA access list (default: eksa-<stack>)")
    p.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"first word of every network and service name (default: {DEFAULT_PREFIX})")
    p.add_argument(
        "--segment",
        action="append",
        default=[],
        metavar="CIDR",
        help="enforcement point: the networks of the L2 segment behind it (repeat for each); only the flows that cross its edge",
    )
    p.add_argument("--default-action", choices=DEFAULT_ACTIONS, default="deny", help="the ready policy's last term (default: deny)")
    p.set_defaults(func=cmd_export)
