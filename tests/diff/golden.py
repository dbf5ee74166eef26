"""Golden files: compared byte for byte; ``UPDATE_GOLDEN=1`` rewrites them (then read every diff)."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def check_golden(path: Path, text: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run the tests once with UPDATE_GOLDEN=1 and read the file"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        delta = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(path), "actual"))
        raise AssertionError(f"output differs from the golden file (UPDATE_GOLDEN=1 rewrites it):\n{delta}")
