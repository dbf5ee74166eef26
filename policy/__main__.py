"""The eksa-firewall policy pack: `pulumi preview --policy-pack policy/`.

Building the PolicyPack starts the analyzer's gRPC server and blocks, so it happens only here; the
policies live in policies.py, where the tests import them.
"""

from policies import POLICIES  # pyright: ignore[reportMissingImports] - the pack directory is on sys.path
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="eksa-firewall",
    display_name="eksa-firewall: EKS Anywhere firewall guard rails",
    description="Refuses control-plane ports and SSH open to the Internet, NSX policies without a final rule, "
    "and Nutanix Flow policies left in SAVE state.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(POLICIES),
)
