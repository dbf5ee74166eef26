"""AWS security groups for Snowball Edge devices ("snow" mode) and regional AWS ("region" mode).

settings.py    the `aws` config section -> ``AwsSettings`` (pure)
visibility.py  what the groups decide, as data (for ``verify``)
planner.py     (topology, flows, settings) -> ``AwsPlan``: groups and rules as frozen data, quotas checked
component.py   ``AwsFirewall``: the plan -> pulumi-aws resources (the only module importing pulumi_aws)
interpret.py   the registered groups and rules -> the accesses they allow (for ``verify``)
probe.py       what the groups change about ``eksa-firewall probe``'s verdicts (Snow's direct network interfaces)
"""

from ..platform import Platform, RequiredEndpoint

PLATFORM = Platform(
    name="snow",
    title="AWS Snowball Edge and regional AWS: EC2 security groups",
    package="aws",
    section="aws",
    component_class="AwsFirewall",
    sdks=("pulumi_aws",),
    secret_keys=("awsAccessKeyId", "awsSecretAccessKey"),
    required_endpoints=(
        RequiredEndpoint(key="snowDevices", what="list each Snowball Edge device as {name, address} (SnowDatacenterConfig devices)"),
    ),
    guide="docs/platforms/snow.md",
)
