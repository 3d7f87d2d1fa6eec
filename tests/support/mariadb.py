"""A throwaway database and read-only account on the MariaDB of these machines (127.0.0.1:3306, root without a
password; DDM_TEST_MARIADB_HOST/PORT point elsewhere): what a restored target's SQL checks run against.

Without a reachable server the tests that need one are skipped, as the PostgreSQL ones are; with
DDM_REQUIRE_MARIADB=1 (CI sets it) they fail instead."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncmy
import pytest

HOST = os.environ.get("DDM_TEST_MARIADB_HOST", "127.0.0.1")
PORT = int(os.environ.get("DDM_TEST_MARIADB_PORT", "3306"))
REQUIRE_MARIADB = os.environ.get("DDM_REQUIRE_MARIADB") == "1"


@dataclass(frozen=True)
class ReadOnlyDatabase:
    host: str
    port: int
    database: str
    user: str
    password: str


async def _root(statements: list[str]) -> None:
    try:
        connection = await asyncmy.connect(host=HOST, port=PORT, user="root", password="", autocommit=True)
    except (OSError, asyncmy.errors.Error) as exc:
        message = f"MariaDB at {HOST}:{PORT} is not reachable as root: {exc!r}"
        if REQUIRE_MARIADB:
            pytest.fail(message + " (DDM_REQUIRE_MARIADB=1)")
        pytest.skip(message)
    try:
        async with connection.cursor() as cursor:
            for statement in statements:
                await cursor.execute(statement)
    finally:
        connection.close()


@asynccontextmanager
async def read_only_database(orders: int) -> AsyncIterator[ReadOnlyDatabase]:
    """A database with a table `orders` of `orders` rows, and an account that may only SELECT in it; both dropped
    afterwards."""
    name = f"ddm_verify_{uuid.uuid4().hex[:10]}"
    password = uuid.uuid4().hex
    hosts = ("127.0.0.1", "localhost")  # how MariaDB names a TCP client of 127.0.0.1 depends on its settings
    setup = [
        f"CREATE DATABASE `{name}`",
        f"CREATE TABLE `{name}`.orders (id INT PRIMARY KEY, email VARCHAR(80))",
        *[f"INSERT INTO `{name}`.orders VALUES ({n}, 'customer{n}@example.com')" for n in range(1, orders + 1)],
    ]
    for host in hosts:
        setup += [
            f"CREATE USER '{name}'@'{host}' IDENTIFIED BY '{password}'",
            f"GRANT SELECT ON `{name}`.* TO '{name}'@'{host}'",
        ]
    await _root(setup)
    try:
        yield ReadOnlyDatabase(HOST, PORT, name, name, password)
    finally:
        await _root(
            [*(f"DROP USER IF EXISTS '{name}'@'{host}'" for host in hosts), f"DROP DATABASE IF EXISTS `{name}`"]
        )


async def require_mariadb() -> None:
    """Skip the test (or fail it, with DDM_REQUIRE_MARIADB=1) when the server can't be reached as root."""
    await _root([])
