"""The platforms eksa-firewall supports, as data: which component, interpreter and provider SDK each uses.

Modules are named, not imported: a stack imports only its own platform's code and provider SDK
(``pulumi_nutanix`` alone costs seconds at import).
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from .errors import EksaFirewallError


class Platform(NamedTuple):
    """One supported platform: its component, interpreter and provider SDK, named rather than imported."""

    name: str  # the EKS-A provider, as `platform:` names it
    title: str
    component: str  # "module:Class", module relative to this package
    interpreter: str  # module relative to this package, with `enforced_flows` and `allowed`
    sdks: tuple[str, ...]  # the provider SDK modules the component imports
    secret_keys: tuple[str, ...] = ()  # top-level config keys read with get_secret
    guide: str = ""


PLATFORMS: dict[str, Platform] = {
    p.name: p
    for p in (
        Platform(
            name="snow",
            title="AWS Snowball Edge and regional AWS: EC2 security groups",
            component="aws.component:AwsFirewall",
            interpreter="aws.interpret",
            sdks=("pulumi_aws",),
            secret_keys=("awsAccessKeyId", "awsSecretAccessKey"),
            guide="docs/platforms/snow.md",
        ),
        Platform(
            name="vsphere",
            title="vSphere: vCenter role tags and an NSX distributed-firewall policy",
            component="vsphere.component:VSphereFirewall",
            interpreter="vsphere.interpret",
            sdks=("pulumi_vsphere",),
            secret_keys=("nsxPassword",),
            guide="docs/platforms/vsphere.md",
        ),
        Platform(
            name="nutanix",
            title="Nutanix: Prism Central categories and Flow network security policies",
            component="nutanix.component:NutanixFirewall",
            interpreter="nutanix.interpret",
            sdks=("pulumi_nutanix",),
            guide="docs/platforms/nutanix.md",
        ),
        Platform(
            name="baremetal",
            title="Bare metal (Tinkerbell): nftables host firewalls and an ACL table",
            component="baremetal.component:BareMetalFirewall",
            interpreter="baremetal.interpret",
            sdks=("pulumi_command",),
            guide="docs/platforms/baremetal.md",
        ),
    )
}

ALL_SECRET_KEYS = tuple(sorted({k for p in PLATFORMS.values() for k in p.secret_keys}))


def _import(module: str) -> Any:
    try:
        return importlib.import_module(f"{__package__}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"{__package__}."):
            raise EksaFirewallError(f"platform module {module!r} is not part of this eksa-firewall build") from exc
        raise


def load_component(platform: str) -> Any:
    """The platform's ComponentResource class (imports its module and provider SDK, nothing else)."""
    module, _, cls = PLATFORMS[platform].component.partition(":")
    return getattr(_import(module), cls)


def load_interpreter(platform: str) -> Any:
    return _import(PLATFORMS[platform].interpreter)
