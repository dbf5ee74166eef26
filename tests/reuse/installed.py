"""The package as a user installs it: built from a copy of the checkout (what a wheel holds: pyproject.toml,
README.md, components/) and installed with pip into a folder of its own, outside the repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIP_TIMEOUT_S = 180


def install_copy(work: Path) -> Path:
    """Install eksa-firewall from a copy of the checkout under ``work``; the folder to put on sys.path."""
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "components", src / "components", ignore=shutil.ignore_patterns("__pycache__"))
    site = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", "--target", str(site), str(src)],
        check=True, timeout=PIP_TIMEOUT_S, cwd=work,
    )  # fmt: skip
    return site
