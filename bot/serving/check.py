"""`check`: try every dependency once, print one ✓/✗ line each; exit 1 when anything fatal failed."""

from __future__ import annotations

from bot.config import Settings
from bot.huawei.errors import DdmApiError, HuaweiError
from bot.serving.preflight import Finding, check_database, check_slack, region_problems, settings_findings


async def check(settings: Settings) -> int:
    findings = settings_findings(settings)
    print_all(findings)
    lines = [await check_database(settings.database_url)]
    print_all(lines)
    findings += lines
    if settings.slack_bot_token:
        from bot.app import slack_client_from

        lines, _facts = await check_slack(settings, slack_client_from(settings))
        print_all(lines)
        findings += lines
    if not settings.huawei_problems() and not region_problems(settings):
        lines = [await check_huawei(settings)]
        print_all(lines)
        findings += lines
    return 0 if all(finding.ok for finding in findings) else 1


def print_all(findings: list[Finding]) -> None:
    for finding in findings:
        print(finding.line(), flush=True)


async def check_huawei(settings: Settings) -> Finding:
    """One read (list instances): the region's endpoint answers and accepts the credentials."""
    from bot.app import ddm_client_from

    mode = settings.huawei_auth_mode
    credentials = "HUAWEICLOUD_SDK_AK/_SK" if mode == "aksk" else "HUAWEICLOUD_IAM_USERNAME/_PASSWORD/_DOMAIN"
    ddm = ddm_client_from(settings)
    try:
        instances = await ddm.list_instances()
    except DdmApiError as exc:
        name = credentials if exc.is_auth_failure else "HUAWEICLOUD_SDK_PROJECT_ID / HUAWEICLOUD_DDM_ENDPOINT"
        return Finding(False, f"{name}: Huawei Cloud at {settings.ddm_endpoint} answered {exc.describe()}")
    except HuaweiError as exc:
        endpoint = "HUAWEICLOUD_DDM_ENDPOINT" if settings.huaweicloud_ddm_endpoint else "HUAWEICLOUD_REGION"
        return Finding(False, f"{endpoint}: Huawei Cloud at {settings.ddm_endpoint}: {exc}")
    finally:
        await ddm.aclose()
    return Finding(
        True,
        f"{credentials} accepted ({mode}): {len(instances)} DDM instance(s) in project "
        f"{settings.huaweicloud_sdk_project_id}, {settings.huaweicloud_region} at {settings.ddm_endpoint}",
    )
