"""The component package's provider host, started as the CLI would start it, answers GetSchema over gRPC."""

from __future__ import annotations

import json
from pathlib import Path

from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from provider.hosting import VERSION
from provider.hosting import schema as package_schema

from .plugin_host import RPC_TIMEOUT_S, serving

ROOT = Path(__file__).resolve().parents[2]


def test_the_provider_host_answers_get_schema(tmp_path: Path) -> None:
    expected = package_schema()
    # The language host passes the engine's address; GetSchema never calls the engine.
    with serving(ROOT / "provider" / "__main__.py", ["127.0.0.1:1"], log=tmp_path / "provider.log") as channel:
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        info = stub.GetPluginInfo(empty_pb2.Empty(), timeout=RPC_TIMEOUT_S)
        response = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=RPC_TIMEOUT_S)
    served = json.loads(response.schema)
    assert info.version == VERSION
    assert served == expected
    assert sorted(served["resources"]) == [
        "eksa-firewall:index:AwsFirewall",
        "eksa-firewall:index:BareMetalFirewall",
        "eksa-firewall:index:NutanixFirewall",
        "eksa-firewall:index:VSphereFirewall",
    ]
