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
registrations = json.loads(Path(config.require("registrations")).read_text(encoding="utf-8"))
# As components/program.py does once the provider SDK is loaded (and its topology and flows built): what is alive
# now is out of the collector's reach, the recorded registrations included (reading them is not the SDK's cost;
# left young, the collector walked them again and again: 3.5 s of a 5.9 s regional AWS floor at 50 clusters).
gc.freeze()
register_all(registrations, config.get("mode") or "sdk")
