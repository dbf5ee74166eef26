"""Nutanix: Prism Central role categories and Flow Network Security policies (pulumi-nutanix, v4 API).

``settings`` and ``planner`` are pure; ``interpret`` reads the registered objects back into accesses for
``verify``. Only ``component`` imports Pulumi and pulumi_nutanix (which costs seconds at import): import
``components.nutanix.component`` yourself when you build the resources.
"""
