"""vSphere backend: vCenter role tags (pulumi-vsphere) and an NSX distributed-firewall policy.

Modules: ``settings`` (the ``vsphere`` config section), ``planner`` (pure: specs), ``component`` (Pulumi
resources; the only module importing pulumi_vsphere), ``interpret`` (verify), ``nsx_client`` (REST, the only
module doing HTTP) and ``nsx_provider`` (the Pulumi dynamic provider). Import them directly: this package
imports nothing at start-up, so the interpreter and the CLI never pay for Pulumi.
"""
