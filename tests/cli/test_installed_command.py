"""`make plan` installs this repository in the venv (editable), so `eksa-firewall` works there as the docs write it.

A throwaway venv stands in for .venv: its site-packages reach this venv's (a .pth file), so the pinned dependencies
need no download, and its set-up stamp is fresh, so `make` runs only the editable install and the plan. pip builds
the editable wheel with setuptools from PyPI in its isolated build environment, as on a fresh machine.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PROJECT_DIR


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    (next(path.glob("lib/python*/site-packages")) / "shared.pth").write_text(site.getsitepackages()[0] + "\n", encoding="utf-8")
    (path / ".installed").touch()  # the requirements are "installed": the stamp is newer than both files
    return path


def _make(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "PYTHON"))}
    return subprocess.run(["make", "--no-print-directory", "plan", f"VENV={venv}", *args], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=600, env=env, check=False)  # fmt: skip


def test_make_plan_installs_the_command_and_prints_only_the_plan(venv: Path) -> None:
    first = _make(venv, "FORMAT=json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["schema"] == "eksa-firewall/plan/v1"  # `make plan FORMAT=json > plan.json` is clean
    assert "installing this repository" in first.stderr
    again = _make(venv, "FORMAT=json", "STACK=nutanix-example")
    assert (again.returncode, again.stderr) == (0, "")
    assert json.loads(again.stdout)["stack"] == "nutanix-example"


def test_the_installed_command_works_as_the_docs_write_it(venv: Path) -> None:
    command = venv / "bin" / "eksa-firewall"
    if not command.exists():
        assert _make(venv).returncode == 0
    help_text = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=120, check=True, cwd=PROJECT_DIR).stdout
    for name in ("matrix", "plan", "verify", "diff", "acl", "probe"):
        assert f"\n    {name} " in help_text
    bad = PROJECT_DIR / "stacks" / "Pulumi.vsphere-example.yaml"
    text = bad.read_text(encoding="utf-8").replace("      host: nsx.dc1.example.com\n", "")
    stack = venv.parent / "Pulumi.bad.yaml"
    stack.write_text(text, encoding="utf-8")
    # The error comes from inside the program, which imports the package as `components`: still one clear line.
    proc = subprocess.run(
        [str(command), "plan", "--stack-file", str(stack)], capture_output=True, text=True, timeout=300, cwd=PROJECT_DIR, check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("eksa-firewall: invalid configuration") and "vsphere.nsx.host: is required" in proc.stderr
