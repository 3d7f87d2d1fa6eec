"""A local stand-in for Huawei Cloud IAM (token) + DDM (the restore family), for demos, drills and tests.

Run it with ``ddm-restore-bot simulator``; in tests use :class:`RunningSimulator`. See ``server.py`` for the
routes and ``world.py`` for the world JSON format.
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
