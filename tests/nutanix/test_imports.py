"""pulumi_nutanix (2.6 s, 163 MB) is imported only when a Nutanix stack runs. Each check runs in a fresh
interpreter, since this test process may already have imported it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from tests.helpers import PROJECT_DIR


def run(code: str, tmp: Path | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(PROJECT_DIR), "PATH": "/usr/bin:/bin", "HOME": str(tmp or PROJECT_DIR)},
        check=False,
    )
    marker = [line for line in proc.stdout.splitlines() if line.startswith("NUTANIX_IMPORTED=")]
    assert marker, f"the check did not run:\n{proc.stdout}\n{proc.stderr}"
    return marker[-1].split("=", 1)[1]


def test_the_shared_modules_and_the_interpreter_do_not_import_the_sdk() -> None:
    code = """
        import sys
        import components.program, components.cli, components.flows, components.topology, components.verify
        import components.nutanix, components.nutanix.settings, components.nutanix.planner, components.nutanix.interpret
        import components.nutanix.visibility
        from components.platform import get_platform
        get_platform("nutanix").interpreter()
        print("\\nNUTANIX_IMPORTED=" + str("pulumi_nutanix" in sys.modules))
    """
    assert run(code) == "False"


def test_the_nutanix_component_does_import_it() -> None:
    """The positive control: the check above can fail."""
    code = """
        import sys
        import components.nutanix.component
        print("\\nNUTANIX_IMPORTED=" + str("pulumi_nutanix" in sys.modules))
    """
    assert run(code) == "True"


def test_planning_a_stack_of_another_platform_does_not_import_it(tmp_path: Path) -> None:
    """Plan a vSphere stack through the real CLI and program: nothing on the way imports pulumi_nutanix. Every
    non-Nutanix stack of stacks/ is planned too."""
    stack = tmp_path / "Pulumi.other.yaml"
    stack.write_text(
        yaml.safe_dump(
            {
                "config": {
                    "eksa-firewall:platform": "vsphere",
                    "eksa-firewall:adminMachine": {"addresses": ["10.10.0.5"]},
                    "eksa-firewall:endpoints": {"vcenter": "10.0.0.10"},
                    "eksa-firewall:vsphere": {"nsx": {"host": "nsx.example.com", "username": "svc"}},
                    "eksa-firewall:clusters": [{"name": "c1", "controlPlane": {"endpoint": "10.10.1.100", "addresses": ["10.10.1.0/26"]}}],
                }
            }
        ),
        encoding="utf-8",
    )
    code = f"""
        import sys
        from components.cli import main

        rc = main(["plan", "--stack-file", {str(stack)!r}, "--format", "json"])
        assert rc == 0, rc
        print("\\nNUTANIX_IMPORTED=" + str("pulumi_nutanix" in sys.modules))
    """
    assert run(code, tmp_path) == "False"

    others = []
    for path in sorted((PROJECT_DIR / "stacks").glob("Pulumi.*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if (data.get("config") or {}).get("eksa-firewall:platform") not in (None, "nutanix"):
            others.append(path.name.removeprefix("Pulumi.").removesuffix(".yaml"))
    for name in others:
        code = f"""
            import sys
            from components.cli import main
            try:
                main(["plan", "--stack", {name!r}, "--format", "json"])
            finally:
                print("\\nNUTANIX_IMPORTED=" + str("pulumi_nutanix" in sys.modules))
        """
        assert run(code, tmp_path) == "False", name
