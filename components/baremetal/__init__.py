"""Bare metal (Tinkerbell): nftables rulesets for the admin machine and the nodes, and an ACL table.

``settings``, ``hosts``, ``visibility``, ``planner``, ``nftables`` and ``probe`` are pure; ``interpret`` parses the
registered rulesets back into accesses; only ``component`` imports Pulumi and pulumi_command.
"""

from ..platform import Platform, RequiredEndpoint

PLATFORM = Platform(
    name="baremetal",
    title="Bare metal (Tinkerbell): nftables host firewalls and an ACL table",
    package="baremetal",
    section="baremetal",
    component_class="BareMetalFirewall",
    sdks=("pulumi_command",),
    secret_keys=("sshPrivateKey",),
    required_endpoints=(RequiredEndpoint(key="tinkerbellIp", what="the Tinkerbell VIP (TinkerbellDatacenterConfig.spec.tinkerbellIP)"),),
    uses_hardware_csv=True,
    host_firewall=True,
    guide="docs/platforms/baremetal.md",
)
