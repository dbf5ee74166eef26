"""The one registry of platforms, and what a platform is.

A platform is one sub-package of ``components`` (``aws``, ``vsphere``, ``nutanix``, ``baremetal``) whose
``__init__.py`` declares a ``PLATFORM = Platform(...)``: plain data, importing nothing. The package owns
everything else about the platform, in modules the declaration names by convention:

    settings.py     its config section (``section``), parsed and checked
    visibility.py   ``visibility(topology) -> Visibility``: what its firewall objects decide (data, for verify)
    planner.py      pure: (topology, flows, settings) -> provider-native specs
    component.py    the ``pulumi.ComponentResource`` (the only module importing the provider SDK)
    interpret.py    ``allowed(topology, registrations)``: what the registered objects allow (for verify)
    probe.py        ``UDP_REQUESTS`` and ``caveats(topology, clusters)``: this platform's part of ``eksa-firewall probe``

The shared core (topology, flows, verify, the CLI) asks this registry; it names no platform itself.
Adding a platform is one package and one line in ``PLATFORM_PACKAGES`` (docs/contributing-platforms.md).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import EksaFirewallError

if TYPE_CHECKING:
    from .topology import Topology
    from .visibility import Visibility

# The platform packages, in the order the docs and `matrix` list them.
PLATFORM_PACKAGES = ("aws", "vsphere", "nutanix", "baremetal")


@dataclass(frozen=True, kw_only=True, slots=True)
class RequiredEndpoint:
    """An ``endpoints.<key>`` value a platform cannot do without, and what to set it to."""

    key: str
    what: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Platform:
    """One supported platform, as data: names, config keys it owns, and where its code lives."""

    name: str  # the EKS-A provider, as `platform:` names it and the catalog's `platforms` lists it
    title: str
    package: str  # the sub-package of components that implements it
    section: str  # its config section (`aws`, `vsphere`, ...), parsed by <package>.settings
    component_class: str  # the ComponentResource class in <package>.component
    sdks: tuple[str, ...]  # provider SDK modules the component imports (and nothing else does)
    secret_keys: tuple[str, ...] = ()  # top-level config keys that hold secrets (read with get_secret)
    required_endpoints: tuple[RequiredEndpoint, ...] = ()
    uses_hardware_csv: bool = False  # bare metal: machines and BMCs come from EKS-A's hardware CSV
    # Its firewall sits on the machines themselves (bare metal: nftables on each host's input hook), so it also
    # sees what never leaves a machine: a node's own pods reaching it. The catalog's node-local source words
    # (``pods-on-node``, components/endpoints.py) become flows only on such a platform; security groups, NSX
    # and Flow see node-to-node packets only (pods reaching other nodes are masqueraded or encapsulated).
    host_firewall: bool = False
    guide: str = ""

    def module(self, name: str) -> ModuleType:
        """``<package>.<name>`` of this platform (imports it, and what it imports)."""
        try:
            return importlib.import_module(f"{__package__}.{self.package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"{__package__}.{self.package}"):
                raise EksaFirewallError(f"platform {self.name!r} has no module {name!r} in this eksa-firewall build") from exc
            raise

    def load_component(self) -> Any:
        """The platform's ComponentResource class (imports its provider SDK, nothing else's)."""
        return getattr(self.module("component"), self.component_class)

    def visibility(self, topology: Topology) -> Visibility:
        """What this platform's firewall objects decide in ``topology`` (see components/visibility.py)."""
        return self.module("visibility").visibility(topology)

    def interpreter(self) -> ModuleType:
        """The module whose ``allowed(topology, registrations)`` reads registered objects back into accesses."""
        return self.module("interpret")


@cache
def platforms() -> dict[str, Platform]:
    """Every platform, by name, in ``PLATFORM_PACKAGES`` order."""
    found: dict[str, Platform] = {}
    for package in PLATFORM_PACKAGES:
        declared = importlib.import_module(f"{__package__}.{package}").PLATFORM
        if not isinstance(declared, Platform) or declared.package != package:
            raise EksaFirewallError(f"components/{package}/__init__.py must declare PLATFORM = Platform(package={package!r}, ...)")
        found[declared.name] = declared
    return found


def platform_names() -> tuple[str, ...]:
    return tuple(platforms())


def get_platform(name: str) -> Platform:
    try:
        return platforms()[name]
    except KeyError:
        raise EksaFirewallError(f"unknown platform {name!r}; known: {', '.join(platforms())}") from None


def all_secret_keys() -> tuple[str, ...]:
    """Every platform's secret config keys (a stack of one platform may not set another's)."""
    return tuple(sorted({k for p in platforms().values() for k in p.secret_keys}))


def all_sections() -> tuple[str, ...]:
    return tuple(sorted({p.section for p in platforms().values()}))
