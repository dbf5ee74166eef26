"""tools/system-packages, the first step of `make test` (issue 12): on a machine without nftables and iproute2 it
installs them as root, and otherwise stops at once naming the command to run.

The machine that runs the tests has both (the lab needs them). Each test hides them in a private mount namespace (a
tmpfs over /usr/sbin and /usr/bin, where Debian puts `nft`, `ip` and `npm`) and puts a recording `apt-get` first on
PATH: the script's own logic runs for real, no package is installed. Root is needed for the mount: lab tier.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import PROJECT_DIR

SCRIPT = PROJECT_DIR / "tools" / "system-packages"


def _executable(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)


def _run_without_sbin(tmp_path: Path, *, uid: int) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "apt-get.log"
    # The fakes run with the copy of bash: /bin/sh is hidden too.
    _executable(fake / "apt-get", f'#!{fake}/bash\necho "$@" >> {log}\n')
    if uid != 0:
        _executable(fake / "id", f"#!{fake}/bash\necho {uid}\n")
    # /usr/sbin and /usr/bin hidden under tmpfs (/sbin and /bin link there): only the fakes, a copy of bash and
    # of `id` remain on PATH. `command -v` would take any file left in place for a program, so nothing is left.
    for program in ("bash", "id"):
        if not (fake / program).exists():
            shutil.copy2(f"/usr/bin/{program}", fake / program)
    inner = f"mount -t tmpfs none /usr/sbin && mount -t tmpfs none /usr/bin && PATH={fake} exec {fake}/bash {SCRIPT}"
    ran = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", inner],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        check=False,
    )
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return ran, calls


@pytest.mark.lab
def test_as_root_it_installs_what_is_missing(lab_host: None, tmp_path: Path) -> None:
    ran, calls = _run_without_sbin(tmp_path, uid=0)
    assert ran.returncode == 0, ran.stderr
    assert calls == ["update -qq", "install -y -qq --no-install-recommends nftables iproute2 nodejs npm"]
    assert "installing system packages: nftables iproute2 nodejs npm" in ran.stderr


@pytest.mark.lab
def test_without_root_it_stops_at_once_naming_the_command(lab_host: None, tmp_path: Path) -> None:
    ran, calls = _run_without_sbin(tmp_path, uid=1000)
    assert ran.returncode == 1
    assert calls == []
    assert "  sudo apt-get update && sudo apt-get install -y nftables iproute2 nodejs npm" in ran.stderr.splitlines()


@pytest.mark.lab
def test_with_everything_present_it_does_nothing(lab_host: None, tmp_path: Path) -> None:
    log = tmp_path / "apt-get.log"
    fake = tmp_path / "bin"
    fake.mkdir()
    _executable(fake / "apt-get", f'#!/bin/sh\necho "$@" >> {log}\n')
    ran = subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{fake}:/usr/bin:/bin:/usr/sbin:/sbin"},
        check=False,
    )
    assert (ran.returncode, ran.stderr, log.exists()) == (0, "", False)
