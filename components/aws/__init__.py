"""AWS security groups for Snowball Edge devices ("snow" mode) and regional AWS ("region" mode).

settings.py   the `aws` config section -> ``AwsSettings``; which groups exist and which flows they own
planner.py    (topology, flows, settings) -> ``AwsPlan``: groups and rules as frozen data, quotas checked
component.py  ``AwsFirewall``: the plan -> pulumi-aws resources (the only module importing pulumi_aws)
interpret.py  the registered groups and rules -> the accesses they allow (for ``verify``)
"""

from .planner import AwsPlan, GroupSpec, Peer, RuleSpec, build_plan
from .settings import AwsSettings, GroupKey, Scope, parse_settings

__all__ = ["AwsPlan", "AwsSettings", "GroupKey", "GroupSpec", "Peer", "RuleSpec", "Scope", "build_plan", "parse_settings"]
