"""eksa-firewall as a multi-language component package (PulumiPlugin.yaml, runtime python).

Serves the four platform components as ``eksa-firewall:index:<Class>`` (see hosting.py for how). Every
component class is imported at start, because the host needs them all to answer GetSchema: about 3.5 s,
``pulumi_nutanix`` alone 2.6 s, paid once per `pulumi` run that uses the package.
"""

from hosting import PACKAGE, VERSION, hosted_components  # pyright: ignore[reportMissingImports] - this folder is on sys.path
from pulumi.provider.experimental import component_provider_host

if __name__ == "__main__":
    component_provider_host(components=hosted_components(), name=PACKAGE, version=VERSION)
