"""MySqlProbe: an environment's SQL checks on a restored DDM target (bot.ports.TargetProbe), over asyncmy.

DDM speaks the MySQL protocol at its access address. Each check: a connection of its own with the environment's
read-only account to the check's database, its one SELECT, the first row; all within the check's time limit.
What can't connect (refused, the account refused, no answer) raises TargetUnreachable: the verifier tries again
within its bound. What runs and fails (an SQL error, too slow) is that check's failure. Only the number is kept:
never a row, nor the server's error text (it may quote data), only its error code.
"""

from __future__ import annotations

import asyncio
import logging

import asyncmy
from asyncmy.errors import MySQLError

from bot.ports import TargetUnreachable
from bot.restore.verification import CheckResult, SqlCheck, judge

log = logging.getLogger(__name__)

UNKNOWN_DATABASE = 1049
# The connection went away under a query: nothing was judged, try again.
CONNECTION_LOST = frozenset({2006, 2013, 2055})
_WHY = {
    1045: "the target refused the verification account",
    1044: "the verification account may not use the database",
    1040: "the target has too many connections",
}


class MySqlProbe:
    def __init__(self, *, user: str, password: str) -> None:
        self._user = user
        self._password = password

    async def run(self, host: str, port: int, check: SqlCheck, *, limit_seconds: float) -> CheckResult:
        where = f"{host}:{port}"
        connection: asyncmy.Connection | None = None
        try:
            async with asyncio.timeout(limit_seconds):
                try:
                    connection = await asyncmy.connect(
                        host=host,
                        port=port,
                        user=self._user,
                        password=self._password,
                        database=check.database,
                        connect_timeout=max(1, int(limit_seconds)),
                        charset="utf8mb4",
                        autocommit=True,
                    )
                except MySQLError as exc:
                    code = _code(exc)
                    if code == UNKNOWN_DATABASE:
                        return CheckResult(check.name, check.expect, problem=f"database {check.database} not found")
                    raise TargetUnreachable(
                        f"{_WHY.get(code, f'no connection to {where}')} (MySQL error {code})"
                    ) from None
                except OSError as exc:
                    raise TargetUnreachable(f"no connection to {where} ({type(exc).__name__})") from None
                return await _query(connection, check)
        except TimeoutError:
            if connection is None:
                raise TargetUnreachable(f"no connection to {where} within {limit_seconds:g} s") from None
            return CheckResult(check.name, check.expect, problem=f"no answer within {limit_seconds:g} s")
        finally:
            if connection is not None:
                connection.close()


async def _query(connection: asyncmy.Connection, check: SqlCheck) -> CheckResult:
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(check.sql)
            row = await cursor.fetchone()
    except MySQLError as exc:
        code = _code(exc)
        if code in CONNECTION_LOST:
            raise TargetUnreachable(f"the connection was lost during the check (MySQL error {code})") from None
        return CheckResult(check.name, check.expect, problem=f"the query failed (MySQL error {code})")
    return judge(check, tuple(row) if row is not None else None)


def _code(exc: MySQLError) -> int:
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, int) else 0
