"""`check`: try every dependency once, print one ✓/✗ line each; exit 1 when anything fatal failed."""

from __future__ import annotations

from bot.config import ConfigError, Settings
from bot.envfile import EnvironmentSetup, config_path, load_setups, settings_setup
from bot.huawei.errors import DdmApiError, HuaweiError
from bot.serving.preflight import Finding, check_database, check_slack, region_problems, settings_findings


async def check(settings: Settings) -> int:
    findings = settings_findings(settings)
    print_all(findings)
    lines = [await check_database(settings.database_url)]
    print_all(lines)
    findings += lines
    # A bot token of the wrong kind is already named above; Slack would only refuse it once more.
    if settings.slack_bot_token and not any(f.text.startswith("SLACK_BOT_TOKEN:") for f in findings):
        from bot.clients import slack_client_from

        lines, _facts = await check_slack(settings, slack_client_from(settings))
        print_all(lines)
        findings += lines
    if config_path(settings) is not None:
        try:
            setups = load_setups(settings).all
        except ConfigError:
            setups = ()  # already reported, one line per key
        for setup in setups:
            lines = [await check_huawei(settings, setup)]
            print_all(lines)
            findings += lines
    elif not settings.huawei_problems() and not region_problems(settings):
        lines = [await check_huawei(settings)]
        print_all(lines)
        findings += lines
    return 0 if all(finding.ok for finding in findings) else 1


def print_all(findings: list[Finding]) -> None:
    for finding in findings:
        print(finding.line(), flush=True)


async def check_huawei(settings: Settings, setup: EnvironmentSetup | None = None) -> Finding:
    """One read (list instances) per environment: its endpoint answers and accepts its credentials."""
    from bot.clients import ddm_client_from

    if setup is None:
        mode = settings.huawei_auth_mode
        setup = settings_setup(settings)
        project_key = "HUAWEICLOUD_SDK_PROJECT_ID / HUAWEICLOUD_DDM_ENDPOINT"
        endpoint_key = "HUAWEICLOUD_DDM_ENDPOINT" if settings.huaweicloud_ddm_endpoint else "HUAWEICLOUD_REGION"
        credentials, prefix = setup.names, ""
    else:
        key = f"environment.{setup.environment.name}"
        mode = setup.credentials.mode
        project_key, endpoint_key = f"{key}.project_id / ddm_endpoint", f"{key}.ddm_endpoint / region"
        credentials, prefix = f"{key}.credentials ({setup.names})", f"{setup.environment.name}: "
    env = setup.environment
    ddm = ddm_client_from(settings, setup=setup)
    try:
        instances = await ddm.list_instances()
    except DdmApiError as exc:
        name = credentials if exc.is_auth_failure else project_key
        return Finding(False, f"{name}: Huawei Cloud at {setup.ddm_endpoint} answered {exc.describe()}")
    except HuaweiError as exc:
        return Finding(False, f"{endpoint_key}: Huawei Cloud at {setup.ddm_endpoint}: {exc}")
    finally:
        await ddm.aclose()
    return Finding(
        True,
        f"{prefix}{credentials} accepted ({mode}): {len(instances)} DDM instance(s) in project "
        f"{env.project_id}, {env.region} at {setup.ddm_endpoint}",
    )
