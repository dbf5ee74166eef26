"""The SDK floor program: the recorded registrations of a plan, registered again without our code.

tests/bench/floor.py explains what is reproduced; tests/bench/child.py runs this program under the same mock
engine (``components.engine.run_program``) as the real plan. Config: ``registrations`` (a JSON file) and
``mode`` (sdk or bare).
"""

import gc
import json
from pathlib import Path

import pulumi

from tests.bench.floor import register_all

config = pulumi.Config()
gc.freeze()  # as components/program.py does once the provider SDK is loaded
register_all(json.loads(Path(config.require("registrations")).read_text(encoding="utf-8")), config.get("mode") or "sdk")
