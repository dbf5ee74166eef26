"""Pure: (topology, flows, settings) -> vCenter tags and NSX groups, services and security policies.

Everything here is frozen data with stable keys; ``component.py`` turns it into Pulumi resources. The NSX
object shapes and limits are those of the NSX Policy API (``/policy/api/v1``; see docs/platforms/vsphere.md
for the sources). ``plan`` puts together what each module builds:
- ``tag_specs`` (here): one vCenter tag per node role of every cluster;
- ``groups.py``: one group per node role of every cluster (IP set by default; NSX VM-tag or VM-name condition on
  request), one IP-set group per peer that opens connections into a cluster (admin machine, client ranges, ...);
- ``services.py``: one service per (protocol, merged port set), split into entries of at most 15 ports;
- ``policies.py``: one security policy per cluster, applied to its role groups: one ALLOW rule per (source,
  destination) of the flows into the cluster's nodes and its control-plane VIP, then one logged rule for all
  other traffic into them: DROP (mode enforce) or ALLOW (mode audit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..endpoints import CONTROL_PLANE_VIP, NODE_ROLES
from ..errors import QuotaError
from ..flows import Flow, FlowSet
from ..topology import Topology
from .groups import GroupSpec, group_limit_problems, group_specs
from .policies import PolicySpec, policy_spec, rule_limit_problems
from .services import ServiceSpec, has_ipv6, service_specs
from .settings import VSphereSettings

# Destinations the per-cluster policy is responsible for: the cluster's own VMs and the VIP they hold.
ENFORCED_DESTINATIONS = (*NODE_ROLES, CONTROL_PLANE_VIP)


@dataclass(frozen=True, kw_only=True, slots=True)
class TagSpec:
    cluster: str
    role: str
    name: str
    description: str


@dataclass(frozen=True, kw_only=True, slots=True)
class VSpherePlan:
    tags: tuple[TagSpec, ...]
    groups: tuple[GroupSpec, ...]
    services: tuple[ServiceSpec, ...]
    policies: tuple[PolicySpec, ...]
    domain: str = "default"


def plan(topology: Topology, flows: FlowSet, settings: VSphereSettings) -> VSpherePlan:
    """Every object of the vSphere backend, keyed by stable names; raises QuotaError past NSX limits."""
    nsx = settings.nsx
    tags = tag_specs(topology, settings)
    if not nsx.enabled:
        return VSpherePlan(tags=tags, groups=(), services=(), policies=(), domain=nsx.domain)
    enforced = enforced_flows(flows.flows)
    groups = group_specs(topology, enforced, nsx)
    services = service_specs(enforced, nsx.id_prefix, has_ipv6(topology))
    by_cluster: dict[str, list[Flow]] = {c.name: [] for c in topology.clusters}
    for f in enforced:
        by_cluster[f.cluster].append(f)
    group_by_key = {g.key: g for g in groups}
    service_by_key = {s.key: s for s in services}
    policies = tuple(policy_spec(topology, c, by_cluster[c.name], group_by_key, service_by_key, nsx) for c in topology.clusters)
    problems = [*(p for policy in policies for p in rule_limit_problems(topology, policy)), *group_limit_problems(groups)]
    if problems:
        raise QuotaError(problems)
    return VSpherePlan(tags=tags, groups=groups, services=services, policies=policies, domain=nsx.domain)


def enforced_flows(flows: Iterable[Flow]) -> tuple[Flow, ...]:
    """The flows a cluster's policy decides: everything into its VMs and into the control-plane VIP."""
    return tuple(f for f in flows if f.destination in ENFORCED_DESTINATIONS)


def tag_specs(topology: Topology, settings: VSphereSettings) -> tuple[TagSpec, ...]:
    """One vCenter tag per node role of every cluster (VSphereMachineConfig.spec.tags), unless tags are off."""
    if not settings.tags.enabled:
        return ()
    return tuple(
        TagSpec(
            cluster=c.name,
            role=role,
            name=f"{c.name}-{role}",
            description=f"EKS Anywhere cluster {c.name}: {role} machines (VSphereMachineConfig.spec.tags)",
        )
        for c in topology.clusters
        for role in c.roles
    )
