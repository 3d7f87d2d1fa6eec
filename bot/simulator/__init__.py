"""A local stand-in for Huawei Cloud IAM (token) + DDM (the restore family), for demos, drills and tests.

Run it with ``ddm-restore-bot simulator``; in tests use :class:`RunningSimulator`. How to use it from a shell:
``docs/simulator.md``. The routes: ``ddm_api.py``, ``iam_api.py``, ``control_api.py`` (``/_sim/*``), put
together in ``server.py``; the world JSON format: ``world.py``.
"""

from bot.simulator.auth import SimulatorCredentials
from bot.simulator.faults import FAULT_KINDS, ROUTE_NAMES, Fault
from bot.simulator.server import CallRecord, RunningSimulator, SimulatorState, build_app, serve
from bot.simulator.world import (
    DdmInstance,
    Job,
    RdsInstance,
    World,
    WorldError,
    demo_world,
    demo_world_json,
    load_world,
    world_from_json,
)

__all__ = [
    "FAULT_KINDS",
    "ROUTE_NAMES",
    "CallRecord",
    "DdmInstance",
    "Fault",
    "Job",
    "RdsInstance",
    "RunningSimulator",
    "SimulatorCredentials",
    "SimulatorState",
    "World",
    "WorldError",
    "build_app",
    "demo_world",
    "demo_world_json",
    "load_world",
    "serve",
    "world_from_json",
]
