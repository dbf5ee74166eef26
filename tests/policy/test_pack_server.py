"""The policy pack as the CLI runs it: __main__.py serves the analyzer; it lists the policies and refuses a bad rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policy.policies import POLICIES

from ..reuse.plugin_host import RPC_TIMEOUT_S, serving

ROOT = Path(__file__).resolve().parents[2]


def _analyze(stub: analyzer_pb2_grpc.AnalyzerStub, type_: str, props: dict[str, Any]) -> list[str]:
    properties = struct_pb2.Struct()
    properties.update(props)
    request = analyzer_pb2.AnalyzeRequest(type=type_, properties=properties, urn=f"urn:pulumi:s::p::{type_}::r", name="r")
    return [d.policyName for d in stub.Analyze(request, timeout=RPC_TIMEOUT_S).diagnostics]


def test_the_pack_serves_its_policies_and_refuses_kubelet_from_anywhere(tmp_path: Path) -> None:
    with serving(ROOT / "policy" / "__main__.py", log=tmp_path / "pack.log") as channel:
        stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=RPC_TIMEOUT_S)
        bad = _analyze(stub, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                       {"ipProtocol": "tcp", "fromPort": 10250, "toPort": 10250, "cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-1"})  # fmt: skip
        good = _analyze(stub, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                        {"ipProtocol": "tcp", "fromPort": 10250, "toPort": 10250, "cidrIpv4": "10.0.0.0/8", "securityGroupId": "sg-1"})  # fmt: skip
        saved = _analyze(stub, "nutanix:index/networkSecurityPolicyV2:NetworkSecurityPolicyV2", {"name": "p", "state": "SAVE", "rules": []})
    assert info.name == "eksa-firewall"
    assert {p.name for p in info.policies} == {p.name for p in POLICIES}
    assert all(p.enforcementLevel == analyzer_pb2.MANDATORY for p in info.policies)
    assert bad == ["eksa-no-sensitive-ports-from-internet"]
    assert good == []
    assert saved == ["eksa-nutanix-policy-not-saved"]
