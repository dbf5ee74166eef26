"""What a security-group stack changes about ``eksa-firewall probe``'s verdicts (the command: components/probe.py).

docs/platforms/snow.md ("Checking after pulumi up") explains the verdicts on this platform; ``caveats`` adds
the warnings that depend on the stack itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from ..topology import Topology
from .settings import parse_settings

UDP_REQUESTS: MappingProxyType[str, bytes] = MappingProxyType({})

# Snowball Edge developer guide, network-config-ec2.md: "Traffic on DNIs is not protected by security groups."
# EKS-A: SnowMachineConfig.spec.network.directNetworkInterfaces needs at least one DNI, exactly one primary
# (aws/eks-anywhere pkg/api/v1alpha1/snowmachineconfig.go, validateSnowMachineConfigNetwork).
SNOW_DNI = (
    "aws.mode is snow: Snow's security groups filter the instances' virtual network interfaces (VNI) only, and EKS-A "
    "gives every node a direct network interface (SnowMachineConfig network.directNetworkInterfaces, whose primary DNI "
    "carries the node's address), whose traffic no security group filters: a check between node addresses tests the "
    "network and the hosts, not these groups (docs/platforms/snow.md)"
)


def caveats(topology: Topology, clusters: Sequence[str]) -> tuple[str, ...]:
    return (SNOW_DNI,) if parse_settings(topology).mode == "snow" else ()
