"""vSphere backend: vCenter role tags (pulumi-vsphere) and an NSX distributed-firewall policy.

Modules: ``settings`` (the ``vsphere`` config section), ``visibility`` (what the policies decide, for verify),
``planner`` (pure: specs, put together from ``groups``, ``services`` and ``policies``; ``membership`` says how a
group finds a role's VMs, ``ownership`` the tags on every NSX object), ``component`` (Pulumi resources; the only
module importing pulumi_vsphere), ``interpret`` (verify), ``nsx_client`` (REST, the only module doing HTTP),
``nsx_provider`` (the Pulumi dynamic provider), ``orphans`` (NSX objects state does not know) and ``probe`` (what
audit mode changes about ``eksa-firewall probe``). This package imports nothing at start-up, so the interpreter
and the CLI never pay for Pulumi.
"""

from ..platform import Platform, RequiredEndpoint

PLATFORM = Platform(
    name="vsphere",
    title="vSphere: vCenter role tags and an NSX distributed-firewall policy",
    package="vsphere",
    section="vsphere",
    component_class="VSphereFirewall",
    sdks=("pulumi_vsphere",),
    secret_keys=("nsxPassword",),
    required_endpoints=(RequiredEndpoint(key="vcenter", what="the vCenter Server address (VSphereDatacenterConfig.spec.server)"),),
    guide="docs/platforms/vsphere.md",
)
