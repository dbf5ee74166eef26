"""The vSphere component: vCenter role tags (pulumi-vsphere) and the NSX objects (dynamic provider).

Thin: everything is decided by ``planner.plan``; this module only registers what the plan says.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_vsphere as vsphere

from ..component import Environment, FirewallComponent, child_name, settled, token
from ..schema import CommonArgs
from . import PLATFORM
from .nsx_provider import NsxCleanup, NsxGroup, NsxPolicy, NsxService
from .planner import VSpherePlan, plan
from .settings import parse_settings

URN_PREFIX = "urn:vmomi:InventoryServiceTag:"


class TagsArgs(TypedDict):
    enabled: NotRequired[bool]
    category: NotRequired[str]
    description: NotRequired[str]


class NsxArgs(TypedDict):
    enabled: NotRequired[bool]
    host: str
    port: NotRequired[int]
    username: str
    domain: NotRequired[str]
    category: NotRequired[str]
    sequenceNumber: NotRequired[int]
    mode: NotRequired[str]
    membership: NotRequired[Any]
    nsxTagScope: NotRequired[str]
    idPrefix: NotRequired[str]
    appliedTo: NotRequired[str]
    logAllowed: NotRequired[bool]
    logLabel: NotRequired[str]
    caBundle: NotRequired[str]
    insecure: NotRequired[bool]
    auth: NotRequired[str]
    timeoutSeconds: NotRequired[float]
    maxRetries: NotRequired[int]


class VSphereArgs(TypedDict):
    tags: NotRequired[TagsArgs]
    nsx: NotRequired[NsxArgs]


class VSphereFirewallArgs(CommonArgs):
    vsphere: NotRequired[VSphereArgs]
    nsxPassword: NotRequired[pulumi.Input[str]]  # noqa: N815 - config key, as CommonArgs spells them; always kept secret


def tag_urn(tag_id: str) -> str:
    """The form VSphereMachineConfig.spec.tags takes. The vSphere provider's tag id already is this URN
    (urn:vmomi:InventoryServiceTag:<uuid>:GLOBAL); anything else (mock ids) is wrapped the same way."""
    return tag_id if tag_id.startswith(URN_PREFIX) else f"{URN_PREFIX}{tag_id}:GLOBAL"


class VSphereFirewall(FirewallComponent):
    """vCenter role tags and an NSX distributed-firewall policy for the node roles of EKS Anywhere clusters."""

    PLATFORM = PLATFORM.name

    vsphere_role_tags: pulumi.Output[dict[str, dict[str, str]]]
    """Per cluster and role, the vCenter tag in the form VSphereMachineConfig.spec.tags takes (urn:vmomi:...)."""
    vsphere_tag_category_id: pulumi.Output[str | None]
    """The tag category's id (None with vsphere.tags.enabled: false)."""
    nsx_mode: pulumi.Output[str | None]
    """``enforce`` or ``audit`` (None with vsphere.nsx.enabled: false)."""
    nsx_group_paths: pulumi.Output[dict[str, str]]
    """The NSX groups' policy paths, by stable key."""
    nsx_service_paths: pulumi.Output[dict[str, str]]
    """The NSX services' policy paths, by stable key."""
    nsx_policy_paths: pulumi.Output[dict[str, str]]
    """Each cluster's NSX security policy path."""

    def __init__(self, name: str, args: VSphereFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)

    def _build(self, name: str, environment: Environment, opts: pulumi.ResourceOptions | None) -> None:
        topology = environment.topology
        settings = parse_settings(topology)
        self.plan: VSpherePlan = plan(topology, environment.flows, settings)  # raises before anything is registered
        pulumi.ComponentResource.__init__(self, token("VSphereFirewall"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.tag_category: vsphere.TagCategory | None = None
        self.tags: dict[tuple[str, str], vsphere.Tag] = {}
        if self.plan.tags:
            self.tag_category = vsphere.TagCategory(
                child_name(name, "tag-category"),
                name=settings.tags.category,
                description=settings.tags.description,
                cardinality="SINGLE",  # a VM has one role
                associable_types=["VirtualMachine"],
                opts=child,
            )
            for t in self.plan.tags:
                self.tags[(t.cluster, t.role)] = vsphere.Tag(
                    child_name(name, "tag", t.cluster, t.role),
                    name=t.name,
                    category_id=self.tag_category.id,
                    description=t.description,
                    opts=child,
                )

        self.groups: dict[str, NsxGroup] = {}
        self.services: dict[str, NsxService] = {}
        self.policies: dict[str, NsxPolicy] = {}
        self.nsx_cleanup: NsxCleanup | None = None
        nsx = settings.nsx
        if nsx.enabled and nsx.connection is not None:
            owner = f"{pulumi.get_project()}/{pulumi.get_stack()}"
            connection = nsx.connection.to_props()
            password = environment.secrets.get("nsxPassword")
            domain = self.plan.domain
            # Created before and deleted after every NSX object (they depend on it): removes the objects a lost
            # create left that state never held (nsx_provider.NsxCleanup).
            cleanup_args: dict[str, Any] = {
                "owner": owner, "domain": domain, "id_prefix": nsx.id_prefix, "connection": connection, "password": password,
            }  # fmt: skip
            cleanup = self.nsx_cleanup = NsxCleanup(child_name(name, "nsx-cleanup"), sweep="all", opts=child, **cleanup_args)
            after_cleanup = pulumi.ResourceOptions(parent=self, depends_on=[cleanup])
            for g in self.plan.groups:
                self.groups[g.key] = NsxGroup(
                    child_name(name, "nsx-group", g.key),
                    path=g.path(domain),
                    body=g.body(owner),
                    connection=connection,
                    password=password,
                    opts=after_cleanup,
                )
            for s in self.plan.services:
                self.services[s.key] = NsxService(
                    child_name(name, "nsx-service", s.key),
                    path=s.path,
                    body=s.body(owner),
                    connection=connection,
                    password=password,
                    opts=after_cleanup,
                )
            # Deleted after every policy and before any group or service: removes the policies a lost create left
            # that state never held, which would keep groups and services from being deleted (nsx_provider.NsxCleanup).
            cleanup_policies = NsxCleanup(
                child_name(name, "nsx-cleanup-policies"),
                sweep="policies",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*self.groups.values(), *self.services.values()]),
                **cleanup_args,
            )
            for p in self.plan.policies:
                # Depending on its groups and services makes Pulumi create the policy after them and delete it
                # before them: NSX refuses to delete a group or service a rule still uses (400, error 500030).
                needs: list[pulumi.Resource] = [
                    cleanup_policies,
                    *(self.groups[k] for k in p.groups),
                    *(self.services[k] for k in p.services),
                ]
                self.policies[p.cluster] = NsxPolicy(
                    child_name(name, "nsx-policy", p.cluster),
                    path=p.path(domain),
                    body=p.body(owner),
                    connection=connection,
                    password=password,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=needs),
                )
        tag_ids: dict[str, dict[str, pulumi.Output[str]]] = {}
        for (cluster, role), tag in self.tags.items():
            tag_ids.setdefault(cluster, {})[role] = tag.id
        self._set_outputs(
            vsphere_role_tags=settled(tag_ids).apply(
                lambda ids: {cluster: {role: tag_urn(i) for role, i in roles.items()} for cluster, roles in ids.items()}
            ),
            vsphere_tag_category_id=self.tag_category.id if self.tag_category is not None else None,
            nsx_mode=nsx.mode if nsx.enabled else None,
            nsx_group_paths={k: g.path for k, g in self.groups.items()},
            nsx_service_paths={k: s.path for k, s in self.services.items()},
            nsx_policy_paths={k: p.path for k, p in self.policies.items()},
        )
