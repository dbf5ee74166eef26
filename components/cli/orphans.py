"""``eksa-firewall orphans``: vSphere NSX objects under a stack's id prefix that its state does not know.

The command line only; what is listed and removed, and why, is in components/vsphere/orphans.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .common import add_stack_arguments, load_stack_args

EXIT_OK, EXIT_ERROR = 0, 2


def add_parser(subparsers: Any) -> None:
    """The command-line hook: adds ``orphans`` to the ``eksa-firewall`` command."""
    p = subparsers.add_parser("orphans", help="vSphere: NSX objects under the stack's id prefix that its state does not know")
    add_stack_arguments(p)
    p.add_argument("--state", required=True, help="the stack's state as `pulumi stack export --file FILE` writes it (- for stdin)")
    p.add_argument("--password-env", default="NSX_PASSWORD", help="environment variable holding the NSX password (default: NSX_PASSWORD)")
    p.add_argument("--delete", action="store_true", help="remove the objects of this stack that state does not know")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..vsphere.nsx_client import NsxError
    from ..vsphere.orphans import known_paths, report
    from ..vsphere.settings import parse_settings

    sc, topology, _flows = load_stack_args(args)
    nsx = parse_settings(topology).nsx
    if not nsx.enabled or nsx.connection is None:
        print(f"orphans: stack {sc.stack} has no NSX objects (vsphere.nsx.enabled is false)")
        return EXIT_OK
    try:
        text = sys.stdin.read() if args.state == "-" else open(args.state, encoding="utf-8").read()  # noqa: SIM115
        known = known_paths(json.loads(text))
    except (OSError, ValueError) as exc:
        print(f"eksa-firewall: --state: {exc}", file=sys.stderr)
        return EXIT_ERROR
    password = os.environ.get(args.password_env, "")
    if not password:
        print(f"eksa-firewall: set {args.password_env} to the NSX password of {nsx.connection.username!r}", file=sys.stderr)
        return EXIT_ERROR
    owner = f"{sc.project.name}/{sc.stack}"
    try:
        return report(nsx.connection.to_props(), password, nsx.domain, nsx.id_prefix, owner, known, delete=args.delete)
    except NsxError as exc:
        print(f"eksa-firewall: {exc}", file=sys.stderr)
        return EXIT_ERROR
