"""The NSX dynamic provider run the way Pulumi runs it: in its own process, from what state carries.

How Pulumi does it (pulumi/pulumi at 1b5949891b3cefcb9974752b24a5ecef0acc86c8):
- the program registers each dynamic resource with a ``__provider`` input, the base64 of ``dill.dumps`` of the
  provider object (sdk/python/lib/pulumi/dynamic/dynamic.py, ``serialize_provider`` and ``Resource.__init__``);
- the engine sends that resource's calls to the ``pulumi-python`` plugin (pkg/resource/deploy/target.go,
  ``pythonDynamicProviderPackage``), started as ``<virtualenv>/bin/python -u -m pulumi.dynamic`` or
  ``python3 -u -m pulumi.dynamic`` (sdk/python/dist/pulumi-resource-pulumi-python), in the *stack's* project
  directory with the stack's runtime options as ``PULUMI_RUNTIME_*`` variables
  (sdk/go/common/resource/plugin/provider_plugin.go, ``NewProvider``; pkg/host/host.go passes
  ``ctx.RuntimeOptions()``): the stack's Python, not the component package's;
- that process prints its port, serves the ResourceProvider gRPC service, and for every call unpickles
  ``__provider`` with ``dill.loads`` (sdk/python/lib/pulumi/dynamic/__main__.py, ``get_provider``), calls
  ``configure`` once, then ``check``/``diff``/``create``/``update``/``delete``; secrets arrive unwrapped
  (``Configure`` answers ``acceptSecrets: False``).

Here: the registrations come from a real program under Pulumi's mock engine, in a fresh interpreter that has
the *installed* package (built from a copy of the checkout into a temporary folder, as
tests/reuse/test_python_consumer.py does) or, for the multi-language host, only ``provider/`` and the venv. Their
``__provider`` values are then handed to Pulumi's own ``pulumi.dynamic`` host module, run in another fresh
interpreter (``-I -S``: no site, no environment) whose sys.path holds a project folder outside the repository,
the standard library, the venv's site-packages and, for the Python consumer, the installed package: never the
repository.
The test drives it over gRPC as the engine would (Configure, Check, Create, Diff, Update, Delete) against the
NSX emulator over TLS on loopback, and records every module the host imports: none may come from outside the
standard library and the distributions provider/requirements.txt installs.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import struct_pb2
from packaging.requirements import Requirement
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.vsphere.nsx_emulator import NsxEmulator, self_signed_certificate
from tests.vsphere.support import PASSWORD

from .installed import ROOT, install_copy
from .plugin_host import RPC_TIMEOUT_S, serving

RUN_TIMEOUT_S = 120
VENV_SITE = next(p for p in sys.path if p.endswith("site-packages"))
STDLIB = [p for p in sys.path if p and "site-packages" not in p and Path(p).resolve() != ROOT and not p.endswith(".zip")]

# The stack: one cluster, NSX at the emulator (host, port and CA filled in by the test).
ARGS: dict[str, Any] = {
    "platform": "vsphere",
    "adminMachine": {"addresses": ["10.20.0.10"]},
    "clients": {"api": ["10.30.0.0/16"], "ssh": ["10.20.0.0/28"]},
    "endpoints": {"vcenter": "10.20.0.5"},
    "clusters": [
        {
            "name": "mgmt",
            "controlPlane": {"endpoint": "10.21.0.10", "addresses": ["10.21.0.16/28"]},
            "workerGroups": [{"name": "md-0", "addresses": ["10.21.1.0/25"]}],
        }
    ],
    "vsphere": {"tags": {"enabled": False}, "nsx": {"username": "admin", "idPrefix": "team-a", "timeoutSeconds": 10, "maxRetries": 1}},
    "nsxPassword": PASSWORD,
}

# Registers the component under Pulumi's mock engine and prints every NSX registration with its inputs, secrets
# unwrapped (the engine sends them unwrapped to a provider that does not accept secrets).
REGISTER = """\
import json, sys
import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

captured = []

def plain(v):
    if isinstance(v, dict):
        if v.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return plain(v["value"])
        return {{k: plain(x) for k, x in v.items()}}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v

class Mocks(mocks.Mocks):
    def new_resource(self, args):
        return args.name + "-id", args.inputs
    def call(self, args):
        return {{}}, None

class Monitor(mocks.MockMonitor):
    def RegisterResource(self, request):
        if request.type.startswith("pulumi-python:dynamic/"):
            captured.append({{"type": request.type, "name": request.name, "inputs": plain(json_format.MessageToDict(request.object))}})
        return super().RegisterResource(request)

pulumi.runtime.set_mocks(Mocks(), project="platform-stack", stack="dev", preview=False, monitor=Monitor(Mocks()))
{imports}
args = json.loads(sys.argv[1])
_sync_await(run_pulumi_func(lambda: {construct}))
print(json.dumps({{"modules": sorted(m for m in sys.modules if m.split(".")[0] in ("components", "eksa_firewall")), "captured": captured}}))
"""

# Pulumi's dynamic provider host, with sys.path limited to what the test gives and every import written down.
HOST = """\
import importlib.abc, json, runpy, sys
log_path, paths = sys.argv[1], json.loads(sys.argv[2])
sys.path[:] = paths

class Recorder(importlib.abc.MetaPathFinder):
    \"\"\"Writes down every module that is found (an optional import that fails is not a dependency).\"\"\"
    def find_spec(self, fullname, path=None, target=None):
        for finder in sys.meta_path[1:]:
            spec = finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                with open(log_path, "a", encoding="utf-8") as log:
                    log.write(fullname + "\\n")
                return spec
        return None

sys.meta_path.insert(0, Recorder())
sys.argv[1:] = []
runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)
"""


# --- set-up ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """eksa-firewall built from a copy of the checkout and installed into a folder of its own."""
    return install_copy(tmp_path_factory.mktemp("install"))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def emulator(certificate: tuple[str, str]) -> Iterator[NsxEmulator]:
    with NsxEmulator(password=PASSWORD, tls=certificate) as em:
        yield em


def stack_args(em: NsxEmulator, certificate: tuple[str, str]) -> dict[str, Any]:
    args = json.loads(json.dumps(ARGS))
    args["vsphere"]["nsx"].update(host="127.0.0.1", port=em.port, caBundle=Path(certificate[0]).read_text(encoding="ascii"))
    return args


def register(code: str, args: Mapping[str, Any], paths: list[str], cwd: Path, scratch: Path) -> dict[str, Any]:
    """Run ``code`` (written to ``scratch``, never into the repository) in a fresh interpreter, from ``cwd``, with
    exactly ``paths`` (+ the standard library) on sys.path."""
    boot = (
        f"import sys; sys.path[:] = {[*paths, *STDLIB]!r}; sys.argv[:1] = []; exec(compile(open(sys.argv[0]).read(), sys.argv[0], 'exec'))"
    )
    script = scratch / "register.py"
    script.write_text(code, encoding="utf-8")
    result = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [sys.executable, "-I", "-S", "-c", boot, str(script), json.dumps(args)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def allowed_distributions() -> set[str]:
    """provider/requirements.txt (-r ../requirements.txt) and everything those distributions require."""
    names = [
        Requirement(line).name
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line and line[0].isalpha()
    ]
    seen: set[str] = set()
    while names:
        name = names.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for text in importlib.metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                names.append(req.name)
    return seen


def foreign_imports(log: Path) -> set[str]:
    """Top-level modules the host imported that are neither standard library nor from an allowed distribution."""
    owners = importlib.metadata.packages_distributions()
    allowed = allowed_distributions()
    tops = {line.split(".")[0] for line in log.read_text(encoding="utf-8").split()}
    return {
        t
        for t in tops
        if t not in sys.stdlib_module_names and t not in sys.builtin_module_names and not t.startswith("eksa_firewall_nsx_")
        if not {d.lower().replace("_", "-") for d in owners.get(t, [])} & allowed
    }


# --- the engine's side of the conversation -------------------------------------------------------------------


def struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    # A loop of its own, as pulumi.dynamic.__main__ does: asyncio.run would leave the thread without a current
    # event loop, which the Pulumi SDK's later mock-engine runs in this process need.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()


def unstruct(s: struct_pb2.Struct) -> dict[str, Any]:
    return rpc.deserialize_properties(s)


class Engine:
    """The calls the Pulumi engine makes to the dynamic provider plugin, in the order it makes them."""

    def __init__(self, stub: provider_pb2_grpc.ResourceProviderStub) -> None:
        self.stub = stub
        self.state: dict[str, tuple[str, str, dict[str, Any]]] = {}  # urn -> (id, type, outputs)
        stub.Configure(provider_pb2.ConfigureRequest(args=struct({})), timeout=RPC_TIMEOUT_S)

    @staticmethod
    def urn(r: Mapping[str, Any]) -> str:
        return f"urn:pulumi:dev::platform-stack::{r['type']}::{r['name']}"

    def create(self, r: Mapping[str, Any]) -> None:
        urn = self.urn(r)
        checked = self.stub.Check(provider_pb2.CheckRequest(urn=urn, olds=struct({}), news=struct(r["inputs"])), timeout=RPC_TIMEOUT_S)
        assert not checked.failures, checked.failures
        created = self.stub.Create(provider_pb2.CreateRequest(urn=urn, properties=checked.inputs), timeout=RPC_TIMEOUT_S)
        self.state[urn] = (created.id, r["type"], unstruct(created.properties))

    def diff(self, r: Mapping[str, Any]) -> int:
        urn = self.urn(r)
        rid, _, outs = self.state[urn]
        request = provider_pb2.DiffRequest(id=rid, urn=urn, olds=struct(outs), news=struct(r["inputs"]))
        return self.stub.Diff(request, timeout=RPC_TIMEOUT_S).changes

    def update(self, r: Mapping[str, Any]) -> None:
        urn = self.urn(r)
        rid, kind, outs = self.state[urn]
        request = provider_pb2.UpdateRequest(id=rid, urn=urn, olds=struct(outs), news=struct(r["inputs"]))
        self.state[urn] = (rid, kind, unstruct(self.stub.Update(request, timeout=RPC_TIMEOUT_S).properties))

    def delete(self, r: Mapping[str, Any]) -> None:
        urn = self.urn(r)
        rid, _, outs = self.state.pop(urn)
        self.stub.Delete(provider_pb2.DeleteRequest(id=rid, urn=urn, properties=struct(outs)), timeout=RPC_TIMEOUT_S)


ORDER = {"Cleanup": 0, "Group": 1, "Service": 1, "SecurityPolicy": 3}


def order(r: Mapping[str, Any]) -> tuple[int, str]:
    kind = r["type"].rsplit(":", 1)[-1]
    rank = 2 if kind == "Cleanup" and r["inputs"].get("sweep") == "policies" else ORDER[kind]
    return rank, r["name"]


def lifecycle(captured: list[dict[str, Any]], em: NsxEmulator, project: Path, log: Path, extra: list[str]) -> None:
    """Create everything, diff (no change), update one group, delete everything: through Pulumi's own host."""
    resources = sorted(captured, key=order)
    nsx = [r for r in resources if "path" in r["inputs"]]
    assert {r["type"].rsplit(":", 1)[-1] for r in resources} == {"Cleanup", "Group", "Service", "SecurityPolicy"}
    host = project / "dynamic_host.py"
    host.write_text(HOST, encoding="utf-8")
    paths = [str(project), *STDLIB, *extra, VENV_SITE]  # `python -m` puts the working directory first
    with serving(host, [str(log), json.dumps(paths)], log=project / "host.log", python_args=["-I", "-S", "-u"]) as channel:
        engine = Engine(provider_pb2_grpc.ResourceProviderStub(channel))
        for r in resources:
            engine.create(r)
        assert {p: o["resource_type"] for p, o in em.state().items()} == {
            r["inputs"]["path"]: r["inputs"]["body"]["resource_type"] for r in nsx
        }
        assert all(engine.diff(r) == provider_pb2.DiffResponse.DIFF_NONE for r in resources)

        group = next(r for r in nsx if r["type"].endswith(":Group"))
        changed = {**group, "inputs": {**group["inputs"], "body": {**group["inputs"]["body"], "description": "changed by hand"}}}
        assert engine.diff(changed) == provider_pb2.DiffResponse.DIFF_SOME
        engine.update(changed)
        assert em.state()[group["inputs"]["path"]]["description"] == "changed by hand"

        for r in reversed(resources):
            engine.delete(r)
        assert em.state() == {}
    assert (project / "host.log").read_text(encoding="utf-8").strip() == "" or "Traceback" not in (project / "host.log").read_text()


# --- the tests -----------------------------------------------------------------------------------------------


def test_a_consumer_stacks_nsx_provider_runs_in_pulumis_dynamic_host(
    installed: Path, emulator: NsxEmulator, certificate: tuple[str, str], tmp_path: Path
) -> None:
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    code = REGISTER.format(
        imports="from eksa_firewall.vsphere.component import VSphereFirewall",
        construct='VSphereFirewall("eksa", args)',
    )
    report = register(code, stack_args(emulator, certificate), [str(consumer), str(installed), VENV_SITE], consumer, tmp_path)
    assert report["modules"] and all(m.startswith("eksa_firewall") for m in report["modules"])  # the installed package, by name
    log = tmp_path / "imports.log"
    lifecycle(report["captured"], emulator, consumer, log, extra=[str(installed)])  # the stack's venv has the package
    assert foreign_imports(log) == set()
    assert "eksa_firewall" not in log.read_text(encoding="utf-8").split()  # not even needed: the provider carries its code


def test_a_provider_registered_through_the_multi_language_host_runs_with_only_its_requirements(
    emulator: NsxEmulator, certificate: tuple[str, str], tmp_path: Path
) -> None:
    code = REGISTER.format(
        imports=textwrap.dedent("""\
            from hosting import hosted_components
            VSphereFirewall = next(c for c in hosted_components() if c.__name__ == "VSphereFirewall")"""),
        construct='VSphereFirewall("eksa", args)',
    )
    # As the CLI starts provider/__main__.py: its folder first (hosting.py puts the repository on sys.path itself).
    report = register(code, stack_args(emulator, certificate), [str(ROOT / "provider"), VENV_SITE], ROOT / "provider", tmp_path)
    assert "components.vsphere.nsx_provider" in report["modules"]  # registered from the repository's `components`
    assert not (ROOT / "provider" / "register.py").exists()
    project = tmp_path / "typescript-stack"  # the consuming stack: no Python package of ours anywhere
    project.mkdir()
    log = tmp_path / "imports.log"
    lifecycle(report["captured"], emulator, project, log, extra=[])
    assert foreign_imports(log) == set()
    assert not {"components", "eksa_firewall"} & set(log.read_text(encoding="utf-8").split())
