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

from collections.abc import Iterable
from typing import Any

NSX_TYPE_PREFIX = "pulumi-python:dynamic/nsx:"
EXIT_OK, EXIT_FOUND, EXIT_ERROR = 0, 1, 2


def known_paths(export: Any) -> set[str]:
    """The NSX paths a ``pulumi stack export`` document holds: the ids of our dynamic resources."""
    deployment = export.get("deployment") if isinstance(export, dict) else None
    resources = deployment.get("resources") if isinstance(deployment, dict) else None
    if not isinstance(resources, list):
        raise ValueError("--state: not the output of `pulumi stack export` (no deployment.resources)")
    return {str(r["id"]) for r in resources if isinstance(r, dict) and str(r.get("type", "")).startswith(NSX_TYPE_PREFIX) and r.get("id")}


def report(conn: dict[str, Any], password: str, domain: str, prefix: str, owner: str, known: Iterable[str], *, delete: bool) -> int:
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
