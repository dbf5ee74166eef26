"""Nutanix: Prism Central role categories and Flow Network Security policies (pulumi-nutanix, v4 API).

``settings``, ``visibility``, ``planner`` and ``probe`` are pure; ``interpret`` reads the registered objects back into
accesses for ``verify``. Only ``component`` imports Pulumi and pulumi_nutanix (which costs seconds at import).
"""

from ..platform import Platform, RequiredEndpoint

PLATFORM = Platform(
    name="nutanix",
    title="Nutanix: Prism Central categories and Flow network security policies",
    package="nutanix",
    section="nutanix",
    component_class="NutanixFirewall",
    sdks=("pulumi_nutanix",),
    secret_keys=("prismPassword", "prismApiKey"),
    required_endpoints=(RequiredEndpoint(key="prismCentral", what="the Prism Central address (NutanixDatacenterConfig.spec.endpoint)"),),
    guide="docs/platforms/nutanix.md",
)
