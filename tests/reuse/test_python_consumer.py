"""Python reuse: a consumer stack OUTSIDE the project tree installs eksa-firewall and uses a platform component.

The project is built and installed the way `pip install "eksa-firewall[...] @ git+...@v0.1.0"` does it
(pip builds a copy of the checkout with setuptools, fetched from PyPI into pip's isolated build
environment), but with ``--no-deps --target`` into a temporary folder, since the dependencies are already
in this venv. The consumer has a package of its own named ``components``: it must
not clash with ours, which is installed as ``eksa_firewall``. The consumer program runs under Pulumi's mock
engine in a fresh interpreter whose sys.path holds only the consumer, the install folder and the venv.
pyright checks the consumer's typed args against the installed package (py.typed): good args pass, a
misspelt key fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from .installed import ROOT, install_copy

RUN_TIMEOUT_S = 120

ARGS: dict[str, Any] = {
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
    "vsphere": {"tags": {"category": "eksa-roles"}, "nsx": {"host": "nsx.example.com", "username": "svc", "idPrefix": "team-a"}},
    "nsxPassword": "not-a-real-password",
}

CONSUMER_MAIN = """\
\"\"\"A larger stack of another team: its own `components` package, and eksa-firewall installed beside it.\"\"\"

import pulumi
import pulumi_aws as aws

from components.naming import resource_name  # the consumer's own `components` package
from eksa_firewall.aws.component import AwsFirewall, AwsFirewallArgs
from eksa_firewall.vsphere.component import VSphereFirewall, VSphereFirewallArgs

args: VSphereFirewallArgs = {args}

firewall = VSphereFirewall(resource_name("eksa"), args)
pulumi.export("nsxPolicyPaths", firewall.nsx_policy_paths)

# The security groups go into a VPC this stack creates: its id is an Output, known once the VPC exists.
vpc = aws.ec2.Vpc("platform", cidr_block="10.40.0.0/16")
aws_args: AwsFirewallArgs = {{
    "adminMachine": {{"addresses": ["10.40.0.10"]}},
    "clients": {{"api": ["10.30.0.0/16"]}},
    "endpoints": {{"snowDevices": [{{"name": "unused", "address": "10.40.0.2"}}]}},
    "clusters": [{{"name": "edge", "controlPlane": {{"endpoint": "10.40.1.10", "addresses": ["10.40.1.16/28"]}},
                  "workerGroups": [{{"name": "md-0", "addresses": ["10.40.2.0/24"]}}]}}],
    "aws": {{"mode": "region", "vpcId": vpc.id}},
}}
groups = AwsFirewall(resource_name("edge"), aws_args)
pulumi.export("vpcId", vpc.id)
pulumi.export("edgeWorkerGroup", groups.security_group_ids.apply(lambda ids: ids["edge"]["worker"]))
"""

CONSUMER_BAD = """\
from eksa_firewall.vsphere.component import VSphereFirewallArgs

args: VSphereFirewallArgs = {"adminMachine": {"adresses": ["10.0.0.1"]}, "clusters": []}
"""

RUNNER = """\
import json, sys
from pathlib import Path
import components, eksa_firewall
from eksa_firewall.engine import run_program

run = run_program(Path(sys.argv[1]), project="platform-stack", stack="dev", config={})
print(json.dumps({
    "eksa_firewall": eksa_firewall.__file__,
    "components": components.__file__,
    "types": sorted({r.type for r in run.resources}),
    "names": [r.name for r in run.resources],
    "parents": sorted({r.parent.rsplit("::", 1)[-1] for r in run.resources if r.parent}),
    "outputs": run.outputs,
    "vpc_ids": sorted({str(r.inputs.get("vpcId")) for r in run.resources if r.type == "aws:ec2/securityGroup:SecurityGroup"}),
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """eksa-firewall built from a copy of the checkout and installed into a folder of its own."""
    return install_copy(tmp_path_factory.mktemp("install"))


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("consumer")
    (home / "components").mkdir()
    (home / "components" / "__init__.py").write_text('"""The consumer\'s own components."""\n', encoding="utf-8")
    (home / "components" / "naming.py").write_text(
        'def resource_name(purpose: str) -> str:\n    return f"team-a-{purpose}"\n', encoding="utf-8"
    )
    (home / "__main__.py").write_text(
        CONSUMER_MAIN.format(args=textwrap.indent(json.dumps(ARGS, indent=4), "").replace("true", "True")), encoding="utf-8"
    )
    return home


def test_the_install_is_the_package_eksa_firewall(installed: Path) -> None:
    assert (installed / "eksa_firewall" / "vsphere" / "component.py").exists()
    assert (installed / "eksa_firewall" / "data" / "ports.toml").exists()  # package data: the catalog
    assert (installed / "eksa_firewall" / "py.typed").exists()
    assert not (installed / "components").exists()  # never installed under the generic name
    # pyproject.toml lists the packages by their installed names: every package folder must be there.
    folders = {p.parent.relative_to(ROOT / "components") for p in (ROOT / "components").rglob("__init__.py")}
    assert {f for f in folders if not (installed / "eksa_firewall" / f / "__init__.py").exists()} == set()


def test_the_installed_command_line_has_diff(installed: Path, tmp_path: Path) -> None:
    plans = ROOT / "tests" / "fixtures" / "plans"
    code = f"import sys; sys.path.insert(0, {str(installed)!r}); from eksa_firewall.cli import main; sys.exit(main(sys.argv[1:]))"
    out = tmp_path / "diff.md"
    result = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [sys.executable, "-c", code, "diff", str(plans / "base.json"), str(plans / "jenkins-enabled.json"), "-o", str(out)],
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "jenkins" in out.read_text(encoding="utf-8")


def test_a_consumer_stack_outside_the_tree_runs_a_platform_component(installed: Path, consumer: Path) -> None:
    assert ROOT not in consumer.parents
    runner = consumer.parent / "run_consumer.py"
    runner.write_text(RUNNER, encoding="utf-8")
    venv_site = next(p for p in sys.path if p.endswith("site-packages"))
    code = f"import sys, runpy; sys.path[:] = {[str(consumer), str(installed), venv_site]!r} + [p for p in sys.path if 'site-packages' not in p and p]; sys.argv = {[str(runner), str(consumer / '__main__.py')]!r}; runpy.run_path({str(runner)!r}, run_name='__main__')"
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], check=False, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=consumer
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["eksa_firewall"].startswith(str(installed))
    assert report["components"] == str(consumer / "components" / "__init__.py")
    assert "eksa-firewall:index:VSphereFirewall" in report["types"]
    assert {"vsphere:index/tagCategory:TagCategory", "vsphere:index/tag:Tag", "pulumi-python:dynamic/nsx:SecurityPolicy"} <= set(
        report["types"]
    )
    assert "team-a-eksa" in report["names"]
    assert report["parents"] == ["platform-stack-dev", "team-a-edge", "team-a-eksa"]  # components under the stack, the rest under them
    assert report["outputs"]["nsxPolicyPaths"]
    # The groups were created in the consumer's own VPC, from the Vpc resource's id Output.
    assert report["vpc_ids"] == [report["outputs"]["vpcId"]]
    assert report["outputs"]["edgeWorkerGroup"].startswith("sg-")


def test_typed_args_are_checked_by_pyright(installed: Path, consumer: Path, tmp_path: Path) -> None:
    (consumer / "bad_args.py").write_text(CONSUMER_BAD, encoding="utf-8")
    config = {"include": ["."], "extraPaths": [str(installed)], "pythonVersion": "3.11", "typeCheckingMode": "standard",
              "venvPath": str(ROOT), "venv": ".venv"}  # fmt: skip
    (consumer / "pyrightconfig.json").write_text(json.dumps(config), encoding="utf-8")
    pyright = Path(sys.executable).parent / "pyright"
    result = subprocess.run(
        [str(pyright), "--outputjson"], check=False, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=consumer
    )
    diagnostics = [d for d in json.loads(result.stdout)["generalDiagnostics"] if d["severity"] == "error"]
    files = {Path(d["file"]).name for d in diagnostics}
    assert files == {"bad_args.py"}, diagnostics
    assert any("adresses" in d["message"] for d in diagnostics)
