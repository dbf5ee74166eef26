"""The Nutanix component: the planner's specs -> pulumi-nutanix v4 resources. The only module that imports
pulumi_nutanix (2.6 s and 163 MB at import): a stack of another platform never loads it.
"""

from __future__ import annotations

import re
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_nutanix as nutanix

from ..component import Environment, FirewallComponent, child_name, token
from ..flows import endpoint_addresses
from ..reader import Network
from ..schema import CommonArgs
from ..topology import Topology
from . import PLATFORM
from .planner import NutanixPlan, PolicySpec, RuleSpec, ServiceGroupSpec, category_ref, plan
from .settings import NutanixSettings, parse_settings

# Flow's v4 model (ntnx-microseg-py-client 4.3.2, the setters of NetworkSecurityPolicy, NetworkSecurityPolicyRule,
# ServiceGroup, AddressGroup): descriptions match ^\s*([a-zA-Z0-9 _:.()-]*)\s*$, at most 512 characters for a
# policy, 64 for a rule, 1000 for service and address groups (tests/contract checks every object against it).
_FLOW_TEXT_UNSAFE = re.compile(r"[^a-zA-Z0-9 _:.()-]+")
POLICY_DESCRIPTION_MAX, RULE_DESCRIPTION_MAX, GROUP_DESCRIPTION_MAX = 512, 64, 1000


def flow_text(text: str, limit: int) -> str:
    """``text`` in the characters Flow accepts in a description (others become spaces), cut at ``limit``."""
    clean = " ".join(_FLOW_TEXT_UNSAFE.sub(" ", text).split())
    if len(clean) <= limit:
        return clean
    cut = clean[:limit]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def rule_description(text: str) -> str:
    """A rule's description says where traffic comes from (``From ssh-clients``, ``Within prod etcd``,
    ``Outbound``): 64 characters hold no list of purposes, which the rule's service groups carry."""
    return flow_text(text.split(": ", 1)[0], RULE_DESCRIPTION_MAX)


class CategoryOverrideArgs(TypedDict):
    key: NotRequired[str]
    value: NotRequired[str]


class ProviderArgs(TypedDict):
    endpoint: NotRequired[str]
    port: NotRequired[int]
    insecure: NotRequired[bool]
    username: NotRequired[pulumi.Input[str]]


class NutanixArgs(TypedDict):
    state: NotRequired[str]
    clusterStates: NotRequired[dict[str, str]]
    namePrefix: NotRequired[str]
    categoryKey: NotRequired[str]
    categories: NotRequired[dict[str, dict[str, CategoryOverrideArgs]]]
    scope: NotRequired[str]
    vpcReferences: NotRequired[list[pulumi.Input[str]]]
    hitlog: NotRequired[bool]
    provider: NotRequired[ProviderArgs]


class NutanixFirewallArgs(CommonArgs):
    nutanix: NotRequired[NutanixArgs]
    prismPassword: NotRequired[pulumi.Input[str]]  # noqa: N815 - config key; with nutanix.provider: always kept secret
    prismApiKey: NotRequired[pulumi.Input[str]]  # noqa: N815


def topology_addresses(topology: Topology, cluster: str, role: str) -> tuple[Network, ...]:
    return endpoint_addresses(topology, topology.cluster(cluster), role)


class NutanixFirewall(FirewallComponent):
    """Role categories, address and service groups, and one Flow policy per cluster role."""

    PLATFORM = PLATFORM.name

    additional_categories: pulumi.Output[dict[str, dict[str, list[dict[str, str]]]]]
    """Per cluster and role, the NutanixMachineConfig.spec.additionalCategories entries ({key, value})."""
    flow_policies: pulumi.Output[dict[str, dict[str, dict[str, Any]]]]
    """Per cluster and role, the Flow policy's name, state (MONITOR or ENFORCE) and id."""

    def __init__(self, name: str, args: NutanixFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)

    def _build(self, name: str, environment: Environment, opts: pulumi.ResourceOptions | None) -> None:
        topology = environment.topology
        settings = parse_settings(topology)  # raises ConfigError: nothing registered yet
        self.plan: NutanixPlan = plan(topology, environment.flows, settings)
        self.settings: NutanixSettings = settings
        pulumi.ComponentResource.__init__(self, token("NutanixFirewall"), name, None, opts)

        child = pulumi.ResourceOptions(parent=self)
        if settings.provider is not None:
            secrets = environment.secrets
            password, api_key = secrets.get("prismPassword"), secrets.get("prismApiKey")
            provider = nutanix.Provider(
                child_name(name, "prism-central"),
                endpoint=settings.provider.endpoint,
                port=str(settings.provider.port),
                insecure=settings.provider.insecure,
                username=settings.provider.username,
                password=pulumi.Output.secret(password) if password is not None else None,
                api_key=pulumi.Output.secret(api_key) if api_key is not None else None,
                opts=child,
            )
            child = pulumi.ResourceOptions(parent=self, provider=provider)

        self.categories: dict[str, nutanix.CategoryV2] = {}
        for c in self.plan.categories:
            self.categories[category_ref(c.cluster, c.role)] = nutanix.CategoryV2(
                child_name(name, "category", c.cluster, c.role),
                key=c.key,
                value=c.value,
                description=f"EKS Anywhere cluster {c.cluster}, {c.role} machines (NutanixMachineConfig additionalCategories; eksa-firewall)",
                opts=child,
            )
        self.address_groups: dict[str, nutanix.AddressGroupsV2] = {
            a.key: nutanix.AddressGroupsV2(
                child_name(name, "addresses", *a.key.split("/")),
                name=a.name,
                description=flow_text(a.description, GROUP_DESCRIPTION_MAX),
                ipv4_addresses=[{"value": str(n.network_address), "prefix_length": n.prefixlen} for n in a.networks],
                opts=child,
            )
            for a in self.plan.address_groups
        }
        self.service_groups: dict[str, nutanix.ServiceGroupsV2] = {s.key: _service_group(name, s, child) for s in self.plan.service_groups}
        self.policies: dict[str, nutanix.NetworkSecurityPolicyV2] = {
            category_ref(p.cluster, p.role): self._policy(name, p, child) for p in self.plan.policies
        }
        ipv6 = sorted({str(n) for c in self.plan.categories for n in topology_addresses(topology, c.cluster, c.role) if n.version == 6})
        if ipv6:
            pulumi.log.warn(
                f"IPv6 node addresses ({', '.join(ipv6)}): Flow application policies apply their rules to IPv4 only and "
                "block IPv6 to secured VMs in ENFORCE (isIpv6TrafficAllowed is false). Keep these clusters in MONITOR and "
                "read docs/platforms/nutanix.md (IPv6) before enforcing",
                resource=self,
            )
        self._set_outputs(**self._outputs())

    def _policy(self, name: str, p: PolicySpec, opts: pulumi.ResourceOptions) -> nutanix.NetworkSecurityPolicyV2:
        secured = self.categories[category_ref(p.category.cluster, p.category.role)].id
        return nutanix.NetworkSecurityPolicyV2(
            child_name(name, "policy", p.cluster, p.role),
            name=p.name,
            description=flow_text(p.description, POLICY_DESCRIPTION_MAX),
            type="APPLICATION",
            state=p.state,
            scope=p.scope,
            vpc_references=list(p.vpc_references) if p.vpc_references else None,
            is_hitlog_enabled=p.hitlog,
            # Application rules match IPv4; this keeps IPv6 from bypassing the policy (docs/platforms/nutanix.md).
            is_ipv6_traffic_allowed=False,
            rules=[self._rule(r, secured) for r in p.rules],
            opts=opts,
        )

    def _rule(self, rule: RuleSpec, secured: pulumi.Output[str]) -> nutanix.NetworkSecurityPolicyV2RuleArgsDict:
        services = [self.service_groups[k].id for k in rule.services]
        if rule.kind == "intra":
            intra: nutanix.NetworkSecurityPolicyV2RuleSpecIntraEntityGroupRuleSpecArgsDict = {
                "secured_group_category_references": [secured],
                "secured_group_action": "ALLOW" if services else "DENY",
            }
            if services:
                intra["secured_group_service_references"] = services
            return {
                "type": "INTRA_GROUP",
                "description": rule_description(rule.description),
                "specs": [{"intra_entity_group_rule_specs": [intra]}],
            }
        app: nutanix.NetworkSecurityPolicyV2RuleSpecApplicationRuleSpecArgsDict = {"secured_group_category_references": [secured]}
        if rule.kind == "outbound":
            app["dest_allow_spec"] = "ALL"
            app["is_all_protocol_allowed"] = True
        else:
            source = rule.source
            assert source is not None and services
            if source.kind == "category":
                app["src_category_references"] = [self.categories[source.ref].id]
            elif source.kind == "address-group":
                app["src_address_group_references"] = [self.address_groups[source.ref].id]
            else:
                net = source.network
                app["src_subnets"] = [{"value": str(net.network_address), "prefix_length": net.prefixlen}]
            app["service_group_references"] = services
            app["is_all_protocol_allowed"] = False
        return {"type": "APPLICATION", "description": rule_description(rule.description), "specs": [{"application_rule_specs": [app]}]}

    def _outputs(self) -> dict[str, Any]:
        additional: dict[str, dict[str, list[dict[str, str]]]] = {}
        for c in self.plan.categories:
            additional.setdefault(c.cluster, {})[c.role] = [c.additional_category()]
        policies: dict[str, dict[str, dict[str, Any]]] = {}
        for p in self.plan.policies:
            policies.setdefault(p.cluster, {})[p.role] = {
                "name": p.name,
                "state": p.state,
                "id": self.policies[category_ref(p.cluster, p.role)].id,
            }
        return {"additional_categories": additional, "flow_policies": policies}


def _service_group(name: str, s: ServiceGroupSpec, opts: pulumi.ResourceOptions) -> nutanix.ServiceGroupsV2:
    tcp: list[nutanix.ServiceGroupsV2TcpServiceArgsDict] = []
    udp: list[nutanix.ServiceGroupsV2UdpServiceArgsDict] = []
    icmp: list[nutanix.ServiceGroupsV2IcmpServiceArgsDict] = []
    if s.protocol == "tcp":
        tcp = [{"start_port": r.lo, "end_port": r.hi} for r in s.ports]
    elif s.protocol == "udp":
        udp = [{"start_port": r.lo, "end_port": r.hi} for r in s.ports]
    else:  # one entry per ICMP type, code 0: the catalog's ICMP rows are echo requests (type 8, code 0)
        icmp = [{"type": t, "code": 0} for r in s.ports for t in range(r.lo, r.hi + 1)]
    return nutanix.ServiceGroupsV2(
        child_name(name, "services", *s.key.split("/")),
        name=s.name,
        description=flow_text(s.description, GROUP_DESCRIPTION_MAX),
        tcp_services=tcp or None,
        udp_services=udp or None,
        icmp_services=icmp or None,
        opts=opts,
    )
