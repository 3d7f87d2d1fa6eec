"""`playground --verify-mysql HOST:PORT`: a restore verified with a passing SQL check, on a MySQL/MariaDB of yours.

The playground has no MySQL of its own. Given a server and an admin account, it creates a small database (a table
`orders` of a few rows) and a read-only account for the checks, makes every simulated DDM instance speak MySQL at
that server, and gives the page's environment one check run with that account. Both are dropped when it stops.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

import asyncmy
from asyncmy.errors import MySQLError
from pydantic import SecretStr

from bot.config import ConfigError
from bot.envfile import Setups
from bot.restore.verification import SqlCheck, VerifyRule, parse_expect

ORDERS = 3
CHECK = SqlCheck("orders restored", "", "SELECT COUNT(*) FROM orders", parse_expect(">= 1"))
# How MariaDB names a client depends on where it connects from and on the server's settings: all of them.
ACCOUNT_HOSTS = ("%", "localhost", "127.0.0.1")
CONNECT_SECONDS = 5


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    admin_user: str
    admin_password: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_server(address: str, admin: str) -> Server:
    """HOST:PORT and USER[:PASSWORD]; ConfigError (one line) when either is not."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--verify-mysql {address!r}: give HOST:PORT, e.g. 127.0.0.1:3306")
    user, _, password = admin.partition(":")
    if not user:
        raise ConfigError("--verify-mysql-admin: give USER[:PASSWORD], e.g. root")
    return Server(host.strip("[]"), int(port), user, password)


class CheckDatabase:
    """The checks' database and read-only account on the server: `create`, then `drop` (idempotent)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.name = f"ddm_playground_{secrets.token_hex(5)}"
        self.password = secrets.token_hex(16)
        self._created = False

    async def create(self) -> None:
        """ConfigError (one line, no secret) when the server can't be reached or refuses the admin account."""
        statements = [
            f"CREATE DATABASE `{self.name}`",
            f"CREATE TABLE `{self.name}`.orders (id INT PRIMARY KEY, total DECIMAL(10, 2))",
            f"INSERT INTO `{self.name}`.orders VALUES " + ", ".join(f"({n}, {n}0.00)" for n in range(1, ORDERS + 1)),
        ]
        for host in ACCOUNT_HOSTS:
            statements += [
                f"CREATE USER '{self.name}'@'{host}' IDENTIFIED BY '{self.password}'",
                f"GRANT SELECT ON `{self.name}`.* TO '{self.name}'@'{host}'",
            ]
        self._created = True  # from here on, drop what part of it exists
        try:
            await self._admin(statements)
        except (MySQLError, OSError, TimeoutError) as exc:
            await self.drop()
            raise ConfigError(f"--verify-mysql {self.server.where}: {_why(exc)}") from None

    async def drop(self) -> None:
        if not self._created:
            return
        self._created = False
        drops = [f"DROP USER IF EXISTS '{self.name}'@'{host}'" for host in ACCOUNT_HOSTS]
        with contextlib.suppress(MySQLError, OSError, TimeoutError):  # the server went away: nothing more to do
            await self._admin([*drops, f"DROP DATABASE IF EXISTS `{self.name}`"])

    def with_check(self, setups: Setups, channel_id: str) -> Setups:
        """The environments, the page's one verified with the check on this database with the read-only account."""
        rule = VerifyRule(
            ready_within=timedelta(minutes=2), timeout_seconds=5, checks=(replace(CHECK, database=self.name),)
        )
        account = (self.name, SecretStr(self.password))
        return Setups(
            tuple(
                replace(s, environment=replace(s.environment, verify=rule), verify_account=account)
                if s.environment.serves(channel_id)
                else s
                for s in setups.all
            ),
            setups.path,
        )

    async def _admin(self, statements: list[str]) -> None:
        connection = await asyncmy.connect(
            host=self.server.host,
            port=self.server.port,
            user=self.server.admin_user,
            password=self.server.admin_password,
            connect_timeout=CONNECT_SECONDS,
            autocommit=True,
        )
        try:
            async with connection.cursor() as cursor:
                for statement in statements:
                    await cursor.execute(statement)
        finally:
            connection.close()


def _why(exc: BaseException) -> str:
    if isinstance(exc, MySQLError) and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
        if code == 1045:
            return "the server refused the admin account (--verify-mysql-admin)"
        if code in (2003, 2005, 2013):
            return "cannot connect to it"
        return f"the admin account cannot create the checks' database and account (MySQL error {code})"
    return f"cannot connect to it ({type(exc).__name__})"
