"""The NSX tags every object of the vSphere backend carries: who manages it, and which cluster it serves.

The NSX provider refuses to take over an object another owner manages (``nsx_provider.py``).
"""

from __future__ import annotations

OWNER_SCOPE = "eksa-firewall/owner"
CLUSTER_SCOPE = "eksa-firewall/cluster"


def owner_tags(owner: str, cluster: str | None) -> list[dict[str, str]]:
    """``owner`` is ``<project>/<stack>``; ``cluster`` is None for objects every cluster shares."""
    tags = [{"scope": OWNER_SCOPE, "tag": owner[:256]}]
    if cluster:
        tags.append({"scope": CLUSTER_SCOPE, "tag": cluster})
    return tags
