"""``eksa-firewall orphans``: the NSX objects under a stack's id prefix that the stack's state does not know.

A create whose answer was lost can leave an object in NSX that Pulumi never recorded (nsx_provider.py says how
the provider cleans up after itself, and ``destroy`` removes such objects through NsxCleanup). This command
finds them between runs: it lists every group, service and security policy whose id starts with
``<idPrefix>-`` in the stack's NSX domain, compares with the state (``pulumi stack export``), and with
``--delete`` removes those that carry this stack's owner tag (policies first). Objects with another owner tag
are listed and left alone.

Exit status: 0 when no object of this stack is unknown to state (or all were removed), 1 when some are listed
and not removed, 2 on a usage, configuration or NSX error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

NSX_TYPE_PREFIX = "pulumi-python:dynamic/nsx:"
EXIT_OK, EXIT_FOUND, EXIT_ERROR = 0, 1, 2


def add_parser(subparsers: Any) -> None:
    """The command-line hook: adds ``orphans`` to the ``eksa-firewall`` command."""
    from ..cli import add_stack_arguments

    p = subparsers.add_parser("orphans", help="vSphere: NSX objects under the stack's id prefix that its state does not know")
    add_stack_arguments(p)
    p.add_argument("--state", required=True, help="the stack's state as `pulumi stack export --file FILE` writes it (- for stdin)")
    p.add_argument("--password-env", default="NSX_PASSWORD", help="environment variable holding the NSX password (default: NSX_PASSWORD)")
    p.add_argument("--delete", action="store_true", help="remove the objects of this stack that state does not know")
    p.set_defaults(func=run)


def known_paths(export: Any) -> set[str]:
    """The NSX paths a ``pulumi stack export`` document holds: the ids of our dynamic resources."""
    deployment = export.get("deployment") if isinstance(export, dict) else None
    resources = deployment.get("resources") if isinstance(deployment, dict) else None
    if not isinstance(resources, list):
        raise ValueError("--state: not the output of `pulumi stack export` (no deployment.resources)")
    return {str(r["id"]) for r in resources if isinstance(r, dict) and str(r.get("type", "")).startswith(NSX_TYPE_PREFIX) and r.get("id")}


def run(args: argparse.Namespace) -> int:
    from ..cli import load_stack_args
    from .nsx_client import NsxError
    from .settings import parse_settings

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
        return _report(nsx.connection.to_props(), password, nsx.domain, nsx.id_prefix, owner, known, delete=args.delete)
    except NsxError as exc:
        print(f"eksa-firewall: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _report(conn: dict[str, Any], password: str, domain: str, prefix: str, owner: str, known: Iterable[str], *, delete: bool) -> int:
    from .nsx_provider import client_from_connection, objects_under_prefix, remove_objects

    client = client_from_connection(conn, password)
    try:
        unknown = [o for o in objects_under_prefix(client, domain, prefix) if o.path not in set(known)]
        ours = [o for o in unknown if o.owner == owner]
        print(f"NSX objects under {prefix}-* in domain {domain} that the state of {owner} does not know: {len(unknown)}")
        for o in unknown:
            what = "this stack's" if o.owner == owner else f"owned by {o.owner!r}: left alone" if o.owner else "no owner tag: left alone"
            print(f"  {o.kind:8} {o.path}  ({what})")
        if delete and ours:
            remove_objects(client, ours)
            print(f"removed {len(ours)} object(s)")
            return EXIT_OK
        if ours:
            print("run again with --delete to remove this stack's objects")
        return EXIT_FOUND if ours else EXIT_OK
    finally:
        client.close()
