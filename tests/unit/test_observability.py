"""Redaction, the log formats, request ids on lines, DDM routes, and secrets read from files."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.observability.context import about_request
from bot.observability.instrument import ddm_route
from bot.observability.logs import handler_for
from bot.observability.redact import MASK, Redactor


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("[(b'X-Subject-Token', b'MIIabcdefghijklmnopqrstuvwxyz')]", "MIIabcdefghijklmnopqrstuvwxyz"),
        ("(b'x-auth-token', b'opaque-token-value')", "opaque-token-value"),
        ("{'Authorization': 'Bearer xoxb-1-2-abc'}", "xoxb-1-2-abc"),
        ('{"password": "hunter22", "name": "ops"}', "hunter22"),
        (
            "Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=0123456789abcdef0123",
            "0123456789abcdef0123",
        ),
        ("wss://wss.example/link/?ticket=abc-123-def&app_id=A1", "abc-123-def"),
        ("token=verif-token-1&team_id=T1", "verif-token-1"),
        ("postgresql+asyncpg://bot:db-pass-1@db:5432/bot", "db-pass-1"),
        ("X-Slack-Signature: v0=" + "a" * 64, "a" * 64),
        ("app token xapp-1-A1-2-abcdef in a sentence", "abcdef"),
        ('"X-Security-Token": "temp-token-9"', "temp-token-9"),
    ],
)
def test_shapes_of_secrets_are_masked(text: str, secret: str) -> None:
    masked = Redactor()(text)
    assert secret not in masked and MASK in masked, masked


def test_known_values_are_masked_wherever_they_appear() -> None:
    redactor = Redactor()
    redactor.add("plain-secret-value", None, "ab")  # too short to mask: ignored
    redactor.remember("runtime-token-1")
    masked = redactor("x plain-secret-value y runtime-token-1 ab")
    assert masked == f"x {MASK} y {MASK} ab"
    assert redactor("nothing here: R-7F3A2B, 200 OK") == "nothing here: R-7F3A2B, 200 OK"


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    text, lines = io.StringIO(), io.StringIO()
    log = logging.getLogger("test.observability")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    handlers = [handler_for("text", text), handler_for("json", lines)]
    for handler in handlers:
        log.addHandler(handler)
    yield log, text, lines
    for handler in handlers:
        log.removeHandler(handler)
    log.propagate = True


def test_lines_carry_the_request_id_and_extras_and_no_secret(
    logger: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    log, text, lines = logger
    with about_request("R-7F3A2B"):
        log.info("posted %s", "the card", extra={"ddm_request_id": "abc123"})
    log.warning("R-8G4B3C failed with xoxb-1-2-secret")
    try:
        raise ValueError("token=leaky-token-value")
    except ValueError:
        log.exception("boom")
    first, second, third = (json.loads(line) for line in lines.getvalue().splitlines())
    assert first["request_id"] == "R-7F3A2B" and first["message"] == "posted the card"
    assert first["ddm_request_id"] == "abc123" and first["level"] == "INFO" and first["time"].endswith("Z")
    assert second["request_id"] == "R-8G4B3C" and "secret" not in second["message"]
    assert "leaky-token-value" not in third["exception"] and "ValueError" in third["exception"]
    shown = text.getvalue().splitlines()
    assert shown[0].endswith("posted the card [R-7F3A2B]")
    assert shown[1].endswith("R-8G4B3C failed with xoxb-[REDACTED]")  # named in the message: not repeated
    assert "leaky-token-value" not in text.getvalue()


def test_ddm_routes_have_bounded_labels() -> None:
    project = "0123456789abcdef0123456789abcdef"
    assert ddm_route(f"/v3/{project}/instances") == "/v3/{project_id}/instances"
    assert (
        ddm_route(f"/v3/{project}/instances/abc123in09/backups/recovery")
        == "/v3/{project_id}/instances/{instance_id}/backups/recovery"
    )
    assert ddm_route(f"/v3/{project}/jobs/ff00") == "/v3/{project_id}/jobs/{job_id}"
    assert ddm_route(f"/v3/{project}/jobs") == "/v3/{project_id}/jobs"


# ---- secrets from files -----------------------------------------------------------------------------------------


def test_every_secret_setting_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import SECRET_SETTINGS

    for name in SECRET_SETTINGS:
        path = tmp_path / name
        value = "sqlite:///./from-file.sqlite3" if name == "database_url" else f"{name}-from-file"
        path.write_text(value + "\n", encoding="utf-8")
        monkeypatch.setenv(f"{name.upper()}_FILE", str(path))
    settings = load_settings(_env_file=None)
    for name in SECRET_SETTINGS:
        value = getattr(settings, name)
        plain = value if isinstance(value, str) else value.get_secret_value()
        expected = "sqlite+aiosqlite:///./from-file.sqlite3" if name == "database_url" else f"{name}-from-file"
        assert plain == expected, name


def test_secret_files_refuse_ambiguity_and_unreadable_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("xoxb-file", encoding="utf-8")
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    lines = str(caught.value).splitlines()
    assert lines == [
        "SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE are both set: keep one.",
        f"HUAWEICLOUD_SDK_SK_FILE: cannot read {tmp_path / 'missing'}: No such file or directory",
    ]
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK_FILE", str(tmp_path / "empty"))  # empty: unset, as an empty variable
    settings = load_settings(_env_file=None)
    assert settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value() == "xoxb-file"
    assert settings.huaweicloud_sdk_sk is None


def test_a_secret_file_named_in_dotenv_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sk").write_text("sk-from-file", encoding="utf-8")
    (tmp_path / ".env").write_text(f"HUAWEICLOUD_SDK_SK_FILE={tmp_path / 'sk'}\n", encoding="utf-8")
    settings = load_settings(_env_file=tmp_path / ".env")
    assert settings.huaweicloud_sdk_sk is not None and settings.huaweicloud_sdk_sk.get_secret_value() == "sk-from-file"


def test_the_readme_names_only_metrics_that_exist() -> None:
    import re

    from bot.observability.metrics import PREFIX, Metrics

    families = {family.name for family in Metrics().registry.collect()}
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Metrics and the alerts worth setting", 1)[1].split("\n### ", 1)[0]
    first_columns = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    listed = {name for column in first_columns for name in re.findall(r"`([a-z_]+)`", column)}
    in_alerts = set(re.findall(rf"{PREFIX}_([a-z_]+)", readme))
    assert len(listed) >= 15
    for name in listed | in_alerts:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert f"{PREFIX}_{base}" in families, f"the README names {PREFIX}_{name}, which does not exist"
    ours = {f.removeprefix(PREFIX + "_") for f in families if f.startswith(PREFIX + "_")}
    documented = {re.sub(r"_total$", "", name) for name in listed}
    assert ours <= documented, f"undocumented metrics: {ours - documented}"
