"""NSX security policies: one per cluster, applied to its role groups.

A cluster's policy has one ALLOW rule per (source, destination) of the flows it enforces (into the cluster's
VMs and its control-plane VIP), numbered from fixed tables, then one logged rule for every other connection
into them: DROP (mode enforce) or ALLOW (mode audit). Rules name groups and services by path; the groups and
services themselves are planned by ``groups.py`` and ``services.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..endpoints import (
    ADMIN_MACHINE,
    API_CLIENTS,
    API_LOAD_BALANCER,
    CONTROL_PLANE,
    CONTROL_PLANE_VIP,
    ETCD,
    JENKINS,
    JENKINS_CLIENTS,
    MANAGEMENT_CLUSTER,
    NODEPORT_CLIENTS,
    SSH_CLIENTS,
    VCENTER,
    WORKER,
)  # fmt: skip
from ..errors import Problem
from ..flows import Flow
from ..reader import key_join
from ..topology import Cluster, Topology
from .groups import GroupSpec, endpoint_group_keys, peer_group_key, role_group_key
from .ownership import owner_tags
from .services import ServiceSpec, service_key
from .settings import NsxSettings

MAX_RULE_LIST = 128  # Rule source_groups / destination_groups / services / scope (NSX Policy API reference)

# Rule sequence numbers: destination code * 100 + source code. Fixed tables, so adding a rule (a new peer,
# Jenkins, external etcd) never renumbers the others; the final rule comes after every possible one.
_DEST_CODES = {CONTROL_PLANE: 1, CONTROL_PLANE_VIP: 2, ETCD: 3, WORKER: 4}
_SOURCE_CODES = {
    CONTROL_PLANE: 1, ETCD: 2, WORKER: 3, API_LOAD_BALANCER: 4, MANAGEMENT_CLUSTER: 5,
    ADMIN_MACHINE: 6, JENKINS: 7, API_CLIENTS: 8, SSH_CLIENTS: 9, NODEPORT_CLIENTS: 10,
    JENKINS_CLIENTS: 11, VCENTER: 12, CONTROL_PLANE_VIP: 13,
}  # fmt: skip
FINAL_RULE_ID = "other-inbound"
FINAL_RULE_SEQUENCE = 1000

Action = Literal["ALLOW", "DROP", "REJECT"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleSpec:
    id: str
    display_name: str
    description: str
    sequence_number: int
    sources: tuple[str, ...]  # paths, or ("ANY",)
    destinations: tuple[str, ...]
    services: tuple[str, ...]
    action: Action
    logged: bool
    tag: str

    def body(self) -> dict[str, Any]:
        return {
            "resource_type": "Rule",
            "id": self.id,
            "display_name": self.display_name,
            "description": self.description,
            "sequence_number": self.sequence_number,
            "source_groups": list(self.sources),
            "destination_groups": list(self.destinations),
            "services": list(self.services),
            "scope": ["ANY"],
            "action": self.action,
            # Inbound at the destination VM's vNIC: the policy restricts what enters the cluster's VMs and
            # leaves their outbound traffic to the rest of the DFW.
            "direction": "IN",
            "ip_protocol": "IPV4_IPV6",
            "logged": self.logged,
            "disabled": False,
            "tag": self.tag,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class PolicySpec:
    cluster: str
    id: str
    display_name: str
    description: str
    category: str
    sequence_number: int
    scope: tuple[str, ...]
    rules: tuple[RuleSpec, ...]
    groups: tuple[str, ...]  # group keys the policy refers to (scope and rules)
    services: tuple[str, ...]  # service keys

    def path(self, domain: str) -> str:
        return f"/infra/domains/{domain}/security-policies/{self.id}"

    def body(self, owner: str) -> dict[str, Any]:
        return {
            "resource_type": "SecurityPolicy",
            "id": self.id,
            "display_name": self.display_name,
            "description": self.description,
            "category": self.category,
            "sequence_number": self.sequence_number,
            "stateful": True,
            "tcp_strict": True,
            "scope": list(self.scope),
            "rules": [r.body() for r in self.rules],
            "tags": owner_tags(owner, self.cluster),
        }


def rule_sequence(source: str, destination: str) -> int:
    dest = _DEST_CODES.get(destination) or _stable_code(destination, 5, 4)
    src = _SOURCE_CODES.get(source) or _stable_code(source, 50, 50)
    return dest * 100 + src


def _stable_code(text: str, lo: int, span: int) -> int:
    return lo + int(hashlib.sha256(text.encode()).hexdigest(), 16) % span


def policy_spec(
    topology: Topology,
    cluster: Cluster,
    flows: Sequence[Flow],
    groups: Mapping[str, GroupSpec],
    services: Mapping[str, ServiceSpec],
    nsx: NsxSettings,
) -> PolicySpec:
    """The policy of ``cluster`` for ``flows`` (the cluster's enforced flows); ``groups`` and ``services``
    (by key) hold every group and service the rules name."""
    rules: list[RuleSpec] = []
    group_keys: set[str] = set()
    service_keys: set[str] = set()
    for (source, destination), pair_flows in _by_pair(flows):
        src = endpoint_group_keys(topology, cluster, source)
        dst = endpoint_group_keys(topology, cluster, destination)
        svc = sorted({service_key(f.protocol, f.ports) for f in pair_flows})
        group_keys.update(src, dst)
        service_keys.update(svc)
        rules.append(
            _allow_rule(
                source,
                destination,
                pair_flows,
                sources=_paths(src, groups, nsx.domain),
                destinations=_paths(dst, groups, nsx.domain),
                services=tuple(services[k].path for k in svc),
                nsx=nsx,
            )
        )
    own = [role_group_key(cluster.name, role) for role in cluster.roles]
    protected = own + ([peer_group_key(cluster, CONTROL_PLANE_VIP)] if any(f.destination == CONTROL_PLANE_VIP for f in flows) else [])
    group_keys.update(protected)
    rules.append(_final_rule(cluster, _paths(protected, groups, nsx.domain), nsx))
    return PolicySpec(
        cluster=cluster.name,
        id=f"{nsx.id_prefix}-{cluster.name}",
        display_name=f"{nsx.id_prefix}-{cluster.name}",
        description=f"eksa-firewall: what may connect into EKS Anywhere cluster {cluster.name} ({nsx.mode} mode)",
        category=nsx.category,
        sequence_number=nsx.sequence_number,
        scope=_paths(own, groups, nsx.domain) if nsx.applied_to == "groups" else ("ANY",),
        rules=tuple(rules),
        groups=tuple(sorted(group_keys)),
        services=tuple(sorted(service_keys)),
    )


def _by_pair(flows: Iterable[Flow]) -> list[tuple[tuple[str, str], list[Flow]]]:
    """The flows by (source, destination), in rule sequence order."""
    pairs: dict[tuple[str, str], list[Flow]] = {}
    for f in flows:
        pairs.setdefault((f.source, f.destination), []).append(f)
    return sorted(pairs.items(), key=lambda kv: rule_sequence(*kv[0]))


def _paths(keys: Iterable[str], groups: Mapping[str, GroupSpec], domain: str) -> tuple[str, ...]:
    return tuple(groups[k].path(domain) for k in keys)


def _allow_rule(
    source: str,
    destination: str,
    flows: Sequence[Flow],
    *,
    sources: tuple[str, ...],
    destinations: tuple[str, ...],
    services: tuple[str, ...],
    nsx: NsxSettings,
) -> RuleSpec:
    """What ``flows`` (all from ``source`` to ``destination``) need: the groups and services given by path."""
    rows = sorted({r for f in flows for r in f.rows})
    return RuleSpec(
        id=f"{source}-to-{destination}",
        display_name=f"{source} to {destination}",
        description=f"catalog rows: {', '.join(rows)}"[:1024],
        sequence_number=rule_sequence(source, destination),
        sources=sources,
        destinations=destinations,
        services=services,
        action="ALLOW",
        logged=nsx.log_allowed,
        tag=nsx.log_label,
    )


def _final_rule(cluster: Cluster, protected: tuple[str, ...], nsx: NsxSettings) -> RuleSpec:
    """Every other connection into the cluster's VMs (``protected``: the paths of its role groups and VIP)."""
    audit = nsx.mode == "audit"
    return RuleSpec(
        id=FINAL_RULE_ID,
        display_name=f"other traffic into {cluster.name}" + (" (audit)" if audit else ""),
        description="every connection into the cluster's machines that no rule above allows"
        + (": allowed and logged (audit mode)" if audit else ": dropped and logged"),
        sequence_number=FINAL_RULE_SEQUENCE,
        sources=("ANY",),
        destinations=protected,
        services=("ANY",),
        action="ALLOW" if audit else "DROP",
        logged=True,
        tag=nsx.log_label,
    )


def rule_limit_problems(topology: Topology, policy: PolicySpec) -> list[Problem]:
    out: list[Problem] = []
    for rule in policy.rules:
        for name, items in (("sources", rule.sources), ("destinations", rule.destinations), ("services", rule.services)):
            if len(items) > MAX_RULE_LIST:
                out.append(
                    Problem(
                        key_join(f"{topology.key_prefix}clusters", policy.cluster),
                        f"NSX rule {rule.id} would list {len(items)} {name}; a rule lists at most {MAX_RULE_LIST}",
                        "merge port options or address ranges",
                    )
                )
    return out
