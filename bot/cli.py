"""`ddm-restore-bot [run|simulator|playground|check|migrate|audit]`: every problem is one precise line, exit code 2."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings

log = logging.getLogger("bot")

# Credentials the built-in simulator uses when the settings name none (`run --simulate` with no Huawei
# settings): fake values that work only against the local simulator.
DEMO_PROJECT_ID = "0123456789abcdef0123456789abcdef"
DEMO_AK = "SIMULATORAK0000000000"
DEMO_SK = "simulator-secret-key-not-a-real-one"
# The IAM login `ddm-restore-bot simulator` accepts when the settings name none (token auth is the easy path for
# curl; see docs/simulator.md). Fake values, good only against the local simulator.
DEMO_IAM_USERNAME = "demo"
DEMO_IAM_PASSWORD = "demo-password-not-a-real-one"
DEMO_IAM_DOMAIN = "demo-account"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    if command == "migrate":
        from bot.store.migrate import migrate_cli

        return migrate_cli()
    if command == "playground":
        from bot.playground.run import playground_cli

        return playground_cli(
            args.host,
            args.port,
            args.job_seconds,
            getattr(args, "config", None),
            args.verify_mysql,
            args.verify_mysql_admin,
        )
    if command == "audit":
        from bot.store.audit import audit_cli

        return audit_cli(
            args.audit_command,
            since=getattr(args, "since", None),
            fmt=getattr(args, "format", None),
            expect_head=getattr(args, "expect_head", None),
        )
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(str(exc))
    setup_logging(settings)
    from bot.serving.preflight import StartupError

    try:
        if command == "simulator":
            return asyncio.run(
                _simulator(
                    settings,
                    args.host,
                    args.port,
                    getattr(args, "seed_file", None),
                    args.job_seconds,
                    args.settle_seconds,
                )
            )
        if command == "check":
            from bot.serving.check import check

            return asyncio.run(check(settings))
        return asyncio.run(_run(settings, simulate=bool(getattr(args, "simulate", False))))
    except (ConfigError, StartupError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    # Every subcommand shows its defaults in --help.
    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="ddm-restore-bot", description="Approved DDM restores from Slack.", formatter_class=formatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the bot (the default)", formatter_class=formatter)
    run.add_argument(
        "--simulate",
        action="store_true",
        help="start the DDM simulator in-process and point the bot at it (no Huawei Cloud account needed)",
    )
    sim = sub.add_parser("simulator", help="run the DDM + IAM simulator", formatter_class=formatter)
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sim.add_argument("--port", type=int, default=9000, help="port to listen on")
    # SUPPRESS: no "(default: None)" after a help text that already says what happens without it.
    sim.add_argument(
        "--seed-file", type=Path, default=argparse.SUPPRESS, help="world JSON (default: the built-in demo world)"
    )
    sim.add_argument("--job-seconds", type=float, default=20.0, help="how long a restore job runs")
    sim.add_argument(
        "--settle-seconds",
        type=float,
        default=5.0,
        help="how long a restored target shows RESTORE after its job completed, before it is RUNNING again",
    )
    play = sub.add_parser(
        "playground",
        help="try the bot in a local web page standing in for Slack (needs no settings)",
        formatter_class=formatter,
    )
    play.add_argument("--host", default="127.0.0.1", help="address the page listens on")
    play.add_argument("--port", type=int, default=8080, help="port of the page")
    play.add_argument("--job-seconds", type=float, default=20.0, help="how long a simulated restore job runs")
    play.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="an environments file for the playground's workspace, to try stages and the urgent path "
        "(e.g. docs/playground-stages.toml; default: one approval by @db-leads, and ./ddm-restore.toml is never read)",
    )
    play.add_argument(
        "--verify-mysql",
        metavar="HOST:PORT",
        default=None,
        help="a MySQL/MariaDB the restored targets speak at: a database and a read-only account are made there for "
        "one SQL check of each restore, and dropped when the playground stops (default: off, DDM-level only)",
    )
    play.add_argument(
        "--verify-mysql-admin",
        metavar="USER[:PASSWORD]",
        default="root",
        help="the account that creates them on --verify-mysql",
    )
    sub.add_parser(
        "check",
        help="try the database, Slack tokens, approvers and Huawei Cloud once; one line each",
        formatter_class=formatter,
    )
    sub.add_parser("migrate", help="apply the database migrations (needs only DATABASE_URL)", formatter_class=formatter)
    audit = sub.add_parser(
        "audit", help="export or verify the audit trail (needs only DATABASE_URL)", formatter_class=formatter
    )
    audit_sub = audit.add_subparsers(dest="audit_command")
    export = audit_sub.add_parser(
        "export",
        help="write the audit records to stdout, one JSON object a line, and last the chain's head",
        formatter_class=formatter,
    )
    export.add_argument("--since", help="from this time on: ISO-8601 with a zone, or a date YYYY-MM-DD (UTC)")
    export.add_argument("--format", help="jsonl (the default and only format)")
    verify = audit_sub.add_parser(
        "verify",
        help="recompute the hash chain and check it ends at the head; exit 1 at the first broken record",
        formatter_class=formatter,
    )
    verify.add_argument(
        "--expect-head",
        metavar="SEQ:HASH",
        default=argparse.SUPPRESS,
        help="a head kept outside the database (a `head:` line of an earlier verify, or the bot's hourly "
        "`audit head seq=… hash=…` log line): the chain must still hold that record with that hash",
    )
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ddm-restore-bot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def setup_logging(settings: Settings) -> None:
    """The root logger as LOG_LEVEL and LOG_FORMAT say, with the settings' secrets taken out of every line."""
    from bot.observability.logs import configure_logging, hide_secrets_of

    hide_secrets_of(settings)
    configure_logging(settings.log_level, settings.log_format)


def _fail(message: str) -> int:
    for line in message.splitlines():
        print(f"ddm-restore-bot: {line}", file=sys.stderr)
    return 2


def simulated_settings(settings: Settings) -> Settings:
    """The settings with demo Huawei credentials filled in where none are set."""
    if not settings.huawei_problems():
        return settings
    return settings.model_copy(
        update={
            "huaweicloud_sdk_project_id": settings.huaweicloud_sdk_project_id or DEMO_PROJECT_ID,
            "huaweicloud_sdk_ak": _secret(DEMO_AK),
            "huaweicloud_sdk_sk": _secret(DEMO_SK),
        }
    )


def simulator_credentials(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.simulator import SimulatorCredentials

    def plain(value: object) -> str | None:
        return value.get_secret_value() if value is not None else None  # type: ignore[attr-defined]

    return SimulatorCredentials(
        project_id=settings.huaweicloud_sdk_project_id or DEMO_PROJECT_ID,
        ak=plain(settings.huaweicloud_sdk_ak),
        sk=plain(settings.huaweicloud_sdk_sk),
        security_token=plain(settings.huaweicloud_sdk_security_token),
        username=settings.huaweicloud_iam_username,
        password=plain(settings.huaweicloud_iam_password),
        domain=settings.huaweicloud_iam_domain,
    )


def _secret(value: str):  # type: ignore[no-untyped-def]
    from pydantic import SecretStr

    return SecretStr(value)


async def _simulator(
    settings: Settings, host: str, port: int, seed_file: Path | None, job_seconds: float, settle_seconds: float
) -> int:
    from bot.serving.serve import bind
    from bot.simulator.server import serve
    from bot.simulator.world import WorldError, load_world

    settings = simulated_settings(settings)
    world = None
    if seed_file is not None:
        try:
            world = load_world(seed_file)
        except (OSError, WorldError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"--seed-file {seed_file}: {reason}") from None
    # Probe the port first, so that one in use is one line, not the simulator's traceback.
    try:
        bind(host, port).close()
    except Exception as exc:
        raise ConfigError(f"--port {port}: {exc}".replace(f"PORT={port}: ", "")) from None
    credentials = simulator_credentials(settings)
    if not credentials.token_auth_enabled:
        credentials = dataclasses.replace(
            credentials, username=DEMO_IAM_USERNAME, password=DEMO_IAM_PASSWORD, domain=DEMO_IAM_DOMAIN
        )
    more = environment_projects(settings)
    if more:  # an environments file: its projects, each with its own identity and a world of its own
        credentials, more = more[0], more[1:]
    await serve(
        host=host,
        port=port,
        credentials=credentials,
        world=world,
        job_seconds=job_seconds,
        more=tuple((each, None) for each in more),
        settle_seconds=settle_seconds,
    )
    return 0


def environment_projects(settings: Settings):  # type: ignore[no-untyped-def]
    """The simulator identities of the environments file's projects (one per project; none without a file)."""
    from bot.envfile import config_path, load_setups
    from bot.simulator import SimulatorCredentials

    if config_path(settings) is None:
        return []
    found: dict[str, SimulatorCredentials] = {}
    for setup in load_setups(settings).all:
        c = setup.credentials
        found.setdefault(
            setup.environment.project_id,
            SimulatorCredentials(
                project_id=setup.environment.project_id,
                ak=c.ak.get_secret_value() if c.ak else None,
                sk=c.sk.get_secret_value() if c.sk else None,
                security_token=c.security_token.get_secret_value() if c.security_token else None,
                username=c.username,
                password=c.password.get_secret_value() if c.password else None,
                domain=c.domain,
            ),
        )
    return list(found.values())


async def _run(settings: Settings, *, simulate: bool) -> int:
    from bot.serving.startup import run

    credentials = None
    if simulate:
        settings = simulated_settings(settings)
        credentials = simulator_credentials(settings)
    return await run(settings, simulate=simulate, credentials=credentials)
