"""`ddm-restore-bot [run|simulator|playground|check|migrate|audit]`: every problem is one precise line, exit code 2."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
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
    parser = argparse.ArgumentParser(prog="ddm-restore-bot", description="Approved DDM restores from Slack.")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the bot (the default)")
    run.add_argument(
        "--simulate",
        action="store_true",
        help="start the DDM simulator in-process and point the bot at it (no Huawei Cloud account needed)",
    )
    sim = sub.add_parser("simulator", help="run the DDM + IAM simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=9000)
    sim.add_argument("--seed-file", type=Path, help="world JSON (default: the built-in demo world)")
    sim.add_argument("--job-seconds", type=float, default=20.0, help="how long a restore job runs")
    play = sub.add_parser(
        "playground",
        help="try the bot in a local web page standing in for Slack (needs no settings)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    play.add_argument("--host", default="127.0.0.1", help="address the page listens on")
    play.add_argument("--port", type=int, default=8080, help="port of the page")
    play.add_argument("--job-seconds", type=float, default=20.0, help="how long a simulated restore job runs")
    sub.add_parser("check", help="check the settings, Huawei Cloud access and the Slack token")
    sub.add_parser("migrate", help="apply the database migrations (needs only DATABASE_URL)")
    audit = sub.add_parser("audit", help="export or verify the audit trail (needs only DATABASE_URL)")
    audit_sub = audit.add_subparsers(dest="audit_command")
    export = audit_sub.add_parser("export", help="write the audit records to stdout, one JSON object a line")
    export.add_argument("--since", help="from this time on: ISO-8601 with a zone, or a date YYYY-MM-DD (UTC)")
    export.add_argument("--format", help="jsonl (the default and only format)")
    audit_sub.add_parser("verify", help="recompute the hash chain; exit 1 at the first broken record")
    args = parser.parse_args(argv)
    command = args.command or "run"
    if command == "migrate":
        from bot.store.migrate import migrate_cli

        return migrate_cli()
    if command == "playground":
        from bot.playground.run import playground_cli

        return playground_cli(args.host, args.port, args.job_seconds)
    if command == "audit":
        from bot.store.audit import audit_cli

        return audit_cli(args.audit_command, since=getattr(args, "since", None), fmt=getattr(args, "format", None))
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(str(exc))
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # One line per HTTP call is noise at INFO; our own modules log the calls that matter.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        if command == "simulator":
            return asyncio.run(_simulator(settings, args.host, args.port, args.seed_file, args.job_seconds))
        if command == "check":
            return asyncio.run(_check(settings))
        return asyncio.run(_run(settings, simulate=bool(getattr(args, "simulate", False))))
    except ConfigError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


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


async def _simulator(settings: Settings, host: str, port: int, seed_file: Path | None, job_seconds: float) -> int:
    from bot.simulator.server import serve
    from bot.simulator.world import WorldError, load_world

    settings = simulated_settings(settings)
    try:
        world = load_world(seed_file) if seed_file else None
    except WorldError as exc:
        return _fail(f"--seed-file: {exc}")
    credentials = simulator_credentials(settings)
    if not credentials.token_auth_enabled:
        credentials = dataclasses.replace(
            credentials, username=DEMO_IAM_USERNAME, password=DEMO_IAM_PASSWORD, domain=DEMO_IAM_DOMAIN
        )
    await serve(host=host, port=port, credentials=credentials, world=world, job_seconds=job_seconds)
    return 0


async def _run(settings: Settings, *, simulate: bool) -> int:
    from bot.app import build_runtime, install_signal_handlers, serve

    problems = settings.slack_problems() + settings.policy_problems()
    if simulate:
        settings = simulated_settings(settings)
    else:
        problems += settings.huawei_problems()
    if problems:
        raise ConfigError("\n".join(problems))
    stop = asyncio.Event()
    install_signal_handlers(stop)
    simulator = None
    if simulate:
        from bot.simulator.server import RunningSimulator

        simulator = RunningSimulator(credentials=simulator_credentials(settings))
        await simulator.__aenter__()
        settings = settings.model_copy(
            update={"huaweicloud_ddm_endpoint": simulator.base_url, "huaweicloud_iam_endpoint": simulator.base_url}
        )
        log.info("DDM simulator running at %s (demo world)", simulator.base_url)
    try:
        runtime = await build_runtime(settings)
        # What start-up allocated lives for the whole run: keep it out of full collections (long pauses).
        gc.freeze()
        await serve(runtime, stop)
    finally:
        if simulator is not None:
            await simulator.__aexit__(None, None, None)
    return 0


async def _check(settings: Settings) -> int:
    """Try every dependency once and print one line each; exit 1 when something is wrong."""
    import aiohttp
    from slack_sdk.errors import SlackApiError

    from bot.app import ddm_client_from, slack_client_from
    from bot.huawei.errors import HuaweiError

    ok = True
    for problem in settings.slack_problems() + settings.policy_problems() + settings.huawei_problems():
        print(f"✗ {problem}")
        ok = False
    if not settings.huawei_problems():
        ddm = ddm_client_from(settings)
        try:
            instances = await ddm.list_instances()
            print(
                f"✓ Huawei Cloud ({settings.huawei_auth_mode}): {len(instances)} DDM instance(s) at {settings.ddm_endpoint}"
            )
        except HuaweiError as exc:
            print(f"✗ Huawei Cloud at {settings.ddm_endpoint}: {exc}")
            ok = False
        finally:
            await ddm.aclose()
    if settings.slack_bot_token:
        client = slack_client_from(settings)
        try:
            answer = await client.auth_test()
            print(f"✓ Slack: bot user {answer.get('user')} in team {answer.get('team')}")
        except SlackApiError as exc:
            print(f"✗ Slack: {exc.response.get('error')}")
            ok = False
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            print(f"✗ Slack could not be reached at {client.base_url}: {type(exc).__name__}: {exc}")
            ok = False
    return 0 if ok else 1
