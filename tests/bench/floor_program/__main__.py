"""The SDK floor program: the recorded registrations of a plan, registered again without our code.

tests/bench/floor.py explains what is reproduced; tests/bench/child.py runs this program under the same mock
engine (``components.engine.run_program``) as the real plan. Config: ``registrations``, a file of one recorded
registration (JSON) a line. Each line is decoded just before its resource is registered, so the floor holds no
data of its own beyond what the SDK holds (a hand-written program would hold its arguments no longer either),
and it leaves the garbage collector alone, as our program does.
"""

from pathlib import Path

import pulumi

from tests.bench.floor import read_registrations, register_all

config = pulumi.Config()
register_all(read_registrations(Path(config.require("registrations"))))
