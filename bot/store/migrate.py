"""Schema migrations with Alembic, run from code: at start-up (RequestStore.create_schema) and by
`ddm-restore-bot migrate`. No alembic.ini: the scripts live in bot/store/migrations and ship with the package.

- Replicas starting together on PostgreSQL take turns on an advisory lock; the later ones find the database
  up to date. On SQLite the migration runs in one BEGIN IMMEDIATE transaction, which serialises it as well.
- A database made by the first release (`metadata.create_all`: the tables, no alembic_version) is stamped as
  revision 0001, the schema it has, and upgraded from there.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import weakref
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import TextIO

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from pydantic_settings import SettingsConfigDict
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import DEFAULT_DATABASE_URL, ConfigError, SettingsWithSecretFiles, normalise_database_url
from bot.errors import DependencyError
from bot.store.engine import make_engine

log = logging.getLogger(__name__)
# Alembic 1.20 announces each of its autogenerate plugins at INFO on every run: not news for the bot's log.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The revision whose schema the first release created without Alembic.
BASELINE_REVISION = "0001"
BOT_TABLES = frozenset({"restore_requests", "restore_approvals", "restore_audit"})
# pg_advisory_lock key held while migrating (the audit chain used 4242001 before revision 0005).
MIGRATION_LOCK_KEY = 4242002


class MigrationError(DependencyError):
    """The database is in a state the migrations cannot take forward; the message says which and why."""


class _DatabaseSettings(SettingsWithSecretFiles):
    """Only DATABASE_URL (environment, .env, or the file DATABASE_URL_FILE names, as the bot reads it): `migrate`
    and `audit` need nothing else."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)
    database_url: str = DEFAULT_DATABASE_URL


def configured_database_url() -> str:
    """DATABASE_URL as the bot reads it; ValueError (one line per problem) when it can't be read."""
    try:
        return normalise_database_url(_DatabaseSettings().database_url)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def alembic_config(connection: Connection | None = None, applied: list[str] | None = None) -> Config:
    """An Alembic Config without a file: the packaged scripts, and the connection env.py should use."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["applied"] = applied
    return config


@cache
def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script_directory().get_current_head()
    assert head is not None
    return head


async def migrate(url: str, revision: str = "head") -> list[str]:
    """Bring the database at `url` to `revision`; returns the revision ids applied, oldest first."""
    engine = make_engine(url)  # on SQLite it takes the write lock at BEGIN
    try:
        return await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> list[str]:
    """Upgrade through `engine`, holding the PostgreSQL migration lock meanwhile; returns the revisions applied."""
    postgres = engine.dialect.name == "postgresql"
    # Alembic keeps the running migration in module globals (alembic.context, alembic.op): two migrations
    # interleaved on one event loop would trample each other, so this process runs one at a time.
    async with _process_lock(), engine.connect() as conn:
        try:
            if postgres:
                # Session-level, so that it also spans revisions that commit on their own in the future.
                await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                await conn.commit()
            # One transaction: on PostgreSQL DDL is transactional; on SQLite it is BEGIN IMMEDIATE (see
            # RequestStore), which also keeps a second process out until this one is done.
            applied: list[str] = await conn.run_sync(_upgrade, revision)
            await conn.commit()
        except BaseException:
            with suppress(Exception):  # a broken connection: the error that broke it is the one to see
                await conn.rollback()
            raise
        finally:
            if postgres:
                await _unlock(conn)
    return applied


_process_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _process_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _process_locks.get(loop)
    if lock is None:
        lock = _process_locks[loop] = asyncio.Lock()
    return lock


async def _unlock(conn: AsyncConnection) -> None:
    try:
        await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await conn.commit()
    except Exception:
        # Never hand a connection that may still hold the lock back to the pool (other replicas would wait on
        # it): closing it ends the session, and the lock with it.
        log.warning("could not release the migration lock; closing its connection instead", exc_info=True)
        with suppress(Exception):
            await conn.invalidate()


def current_revisions(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


def _upgrade(connection: Connection, revision: str) -> list[str]:
    script = script_directory()
    heads = set(current_revisions(connection))
    present = set(inspect(connection).get_table_names()) & BOT_TABLES
    if not heads and present:
        if present != BOT_TABLES:
            missing = ", ".join(sorted(BOT_TABLES - present))
            raise MigrationError(
                f"the database has some of the bot's tables but not {missing}, and no alembic_version: "
                "it was not made by this bot; point DATABASE_URL at the bot's database or an empty one"
            )
        log.warning("database created before migrations existed: recording it as revision %s", BASELINE_REVISION)
        command.stamp(alembic_config(connection), BASELINE_REVISION)
        heads = {BASELINE_REVISION}
    elif heads and not present:
        # The tables were dropped but the version row was left behind: build the schema afresh.
        log.warning("alembic_version says %s but none of the bot's tables exist: creating them", ", ".join(heads))
        command.stamp(alembic_config(connection), "base", purge=True)
        heads = set()
    unknown = sorted(h for h in heads if not _known(script, h))
    if unknown:
        raise MigrationError(
            f"the database is at revision {', '.join(unknown)}, which this version of the bot does not know "
            f"(its newest is {head_revision()}): a newer release migrated it; run that release"
        )
    if revision == "head" and heads == set(script.get_heads()):
        return []  # up to date: no need to run the scripts' environment at all
    applied: list[str] = []
    try:
        command.upgrade(alembic_config(connection, applied), revision)
    except CommandError as exc:
        raise MigrationError(str(exc)) from exc
    return applied


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


# ---- command line --------------------------------------------------------------------------------------------


def fail(message: str, err: TextIO | None = None, *, code: int = 2) -> int:
    """One line per problem on stderr, as the rest of the CLI: 2 for bad arguments or settings, 1 otherwise."""
    for line in message.splitlines():
        print(f"ddm-restore-bot: {line}", file=err or sys.stderr)
    return code


BAD_URL = (
    "DATABASE_URL is not a database URL: give sqlite:///path/to/file.sqlite3 or postgresql://user:password@host/db"
)


def shown_url(url: str) -> str:
    """The URL without its password; ValueError when it is no URL of a database the bot supports."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(BAD_URL) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"DATABASE_URL: the bot stores its data in SQLite or PostgreSQL, not {parsed.get_backend_name()}"
        )
    return parsed.render_as_string(hide_password=True)


def migrate_cli(out: TextIO | None = None, err: TextIO | None = None) -> int:
    """`ddm-restore-bot migrate`: one line per revision applied, or that the database is up to date."""
    out = out or sys.stdout
    try:
        url = configured_database_url()
        shown = shown_url(url)
    except ValueError as exc:
        return fail(str(exc), err)
    try:
        applied = asyncio.run(migrate(url))
    except MigrationError as exc:
        return fail(f"migrate: {exc} ({shown})", err, code=1)
    except (ArgumentError, ImportError) as exc:  # a driver the bot does not install (e.g. postgresql+psycopg)
        return fail(f"DATABASE_URL: {one_line(exc)}", err)
    except (SQLAlchemyError, OSError) as exc:
        return fail(f"migrate: cannot migrate the database at {shown}: {one_line(exc)}", err, code=1)
    if not applied:
        print(f"database is up to date (revision {head_revision()})", file=out)
    for revision in applied:
        script = script_directory().get_revision(revision)
        title = script.doc.strip().splitlines()[0] if script is not None and script.doc.strip() else ""
        print(f"applied {revision}: {title}" if title else f"applied {revision}", file=out)
    return 0


def one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
