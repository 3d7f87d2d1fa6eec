"""Bot processes forked from a warm one: each is a real process running exactly what `python -m bot run` runs
(bot.cli.main), with its own pid, environment, working directory and log, and a SIGKILL is a real one; only the
imports, a second and a half of CPU on these machines, are paid once per test worker instead of at each of the
fifty starts the crash and replica tests make.

One zygote per test worker imports the bot, then forks a child for each start it is asked for and reports each
child's exit. The tests of start-up itself (tests/e2e/test_startup.py, test_readme_modes.py) still run the
command line from scratch."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# Single-threaded on purpose (a fork copies only the forking thread; another thread could hold a lock the child
# then waits on forever): it polls its requests and its children's exits in one loop.
_ZYGOTE = r"""
import ctypes, json, logging, os, random, select, signal, sys
import bot.app, bot.cli  # what every start would import

children = set()

def report(message):
    os.write(1, (json.dumps(message) + "\n").encode())

def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        report({"exited": pid, "rc": os.waitstatus_to_exitcode(status)})

def child(ask):
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: it ends with the zygote, never orphaned
    os.chdir(ask["cwd"])
    os.environ.clear()
    os.environ.update(ask["env"])
    log = os.open(ask["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    random.seed()  # a fresh interpreter's randomness, not the zygote's
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 1
    try:
        code = bot.cli.main(ask["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

pending = b""
while True:
    ready, _, _ = select.select([0], [], [], 0.05)
    reap()
    if not ready:
        continue
    chunk = os.read(0, 65536)
    if not chunk:  # the test worker is gone: so are its bots
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        break
    pending += chunk
    while b"\n" in pending:
        line, pending = pending.split(b"\n", 1)
        ask = json.loads(line)
        pid = os.fork()
        if pid == 0:
            child(ask)
        children.add(pid)
        report({"started": pid, "ask": ask["id"]})
"""


class Zygote:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=dict(env), cwd=ROOT
        )
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._starts: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[int]]] = {}
        self._exits: dict[int, int] = {}  # pid → exit code, as reported
        self._exit_waiters: dict[int, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[int]]]] = {}
        self._gone = False
        threading.Thread(target=self._read, name="zygote-reader", daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        try:
            for raw in self._process.stdout:
                message: dict[str, Any] = json.loads(raw)
                with self._lock:
                    if "started" in message:
                        pid = int(message["started"])
                        self._exits.pop(pid, None)  # a pid used again: the earlier process's exit is not this one's
                        waiter = self._starts.pop(int(message["ask"]), None)
                        if waiter is not None:
                            _call(waiter, _resolve, pid)
                    else:
                        pid, code = int(message["exited"]), int(message["rc"])
                        self._exits[pid] = code
                        for waiter in self._exit_waiters.pop(pid, []):
                            _call(waiter, _resolve, code)
        finally:
            with self._lock:
                self._gone = True
                waiting = list(self._starts.values()) + [w for ws in self._exit_waiters.values() for w in ws]
                self._starts.clear()
                self._exit_waiters.clear()
            for waiter in waiting:
                _call(waiter, _fail, RuntimeError("the zygote process died"))

    async def start(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path) -> int:
        """Fork a child running `bot.cli.main(argv)`; its pid."""
        loop = asyncio.get_running_loop()
        started: asyncio.Future[int] = loop.create_future()
        ask = next(self._ids)
        with self._lock:
            if self._gone:
                raise RuntimeError("the zygote process died")
            self._starts[ask] = (loop, started)
        line = json.dumps({"id": ask, "argv": list(argv), "env": dict(env), "cwd": str(cwd), "log": str(log)})
        assert self._process.stdin is not None
        self._process.stdin.write(line.encode() + b"\n")
        self._process.stdin.flush()
        try:
            return await started
        finally:
            with self._lock:
                self._starts.pop(ask, None)

    @property
    def gone(self) -> bool:
        with self._lock:
            return self._gone

    def returncode(self, pid: int) -> int | None:
        with self._lock:
            return self._exits.get(pid)

    async def wait(self, pid: int) -> int:
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[int] = loop.create_future()
        with self._lock:
            if pid in self._exits:
                return self._exits[pid]
            if self._gone:
                raise RuntimeError("the zygote process died")
            waiter = (loop, exited)
            self._exit_waiters.setdefault(pid, []).append(waiter)
        try:
            return await exited
        finally:  # given up on (a timeout): its loop may be closed by the time the exit comes
            with self._lock:
                if waiter in self._exit_waiters.get(pid, []):
                    self._exit_waiters[pid].remove(waiter)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[int]"]


def _call(waiter: Waiter, settle: Callable[[asyncio.Future[int], Any], None], value: Any) -> None:
    """Settle a waiter's future on its own loop; a loop closed since (its test ended) has no one waiting."""
    loop, future = waiter
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(settle, future, value)


def _resolve(future: asyncio.Future[int], value: int) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[int], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


_zygote: Zygote | None = None


def zygote(env: Mapping[str, str]) -> Zygote:
    """This test worker's zygote, started at its first use."""
    global _zygote
    if _zygote is None or _zygote.gone:
        _zygote = Zygote(env)
        atexit.register(_zygote.close)
    return _zygote
