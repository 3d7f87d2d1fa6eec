"""The playground over real local HTTP (no browser): the CLI starts with hostile settings around it, the page's API
turns what a person does into signed Slack requests, and each person sees only their own modal and ephemerals."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncmy
import httpx
import pytest
import pytest_asyncio

from bot.cli import main
from bot.playground.run import Playground
from bot.playground.verify_mysql import parse_server
from tests.support.http import local_http
from tests.support.mariadb import HOST as MARIADB_HOST
from tests.support.mariadb import PORT as MARIADB_PORT
from tests.support.mariadb import require_mariadb
from tests.support.processes import clean_env

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
STAGES = REPO / "docs" / "playground-stages.toml"
DRILLS = REPO / "docs" / "playground-drills.toml"
# A production environments file, as one finds in the folder the bot runs from: its secrets are not set here.
PROD_FILE = """
[[environment]]
name = "prod"
channels = ["C0PROD"]
region = "cn-north-4"
project_id = "0123456789abcdef0123456789abcdef"
credentials = { ak_env = "PROD_HUAWEICLOUD_SDK_AK", sk_env = "PROD_HUAWEICLOUD_SDK_SK" }

[[environment.stage]]
name = "DBA lead"
approvers = { usergroups = ["S0LEADS"] }
"""


@pytest_asyncio.fixture
async def playground() -> AsyncIterator[tuple[Playground, httpx.AsyncClient]]:
    async with Playground(port=0, job_seconds=0.5) as running, local_http(base_url=running.url) as http:
        yield running, http


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 8.0) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = await check()
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def seen_by(http: httpx.AsyncClient, user: str) -> dict[str, Any]:
    answer = await http.get("/api/state", params={"user": user})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_page_assets_and_directory(playground: tuple[Playground, httpx.AsyncClient]) -> None:
    _running, http = playground
    page = await http.get("/")
    assert page.status_code == 200 and "/static/playground.js" in page.text
    assert (await http.get("/static/playground.js")).headers["Content-Type"].startswith("text/javascript")
    assert (await http.get("/static/..%2Frun.py")).status_code == 404  # only the page's own files
    directory = (await http.get("/api/directory")).json()
    roles = {p["role"]: p["id"] for p in directory["people"]}
    assert set(roles) == {"requester", "lead 1", "lead 2", "outsider", "guest"}
    group = next(iter(directory["groups"].values()))
    assert group["handle"] == "db-leads" and set(group["members"]) == {roles["lead 1"], roles["lead 2"]}
    assert (await http.get("/api/state", params={"user": "UNOBODY"})).status_code == 400


async def test_form_steps_are_signed_requests_and_modals_are_per_person(
    playground: tuple[Playground, httpx.AsyncClient],
) -> None:
    running, http = playground
    answer = await http.post("/api/command", json={"user": "UALICE", "text": "/ddm-restore"})
    assert answer.json() == {"ok": True}

    async def alices_modal() -> dict[str, Any] | None:
        return (await seen_by(http, "UALICE"))["modal"]

    modal = await eventually(alices_modal, "the form never opened")
    assert modal["callback_id"] == "ddm_restore_source" and modal["depth"] == 1
    assert (await seen_by(http, "UBOB"))["modal"] is None  # Bob's screen shows no form

    # The bot's options endpoint answers the type-ahead (a signed block_suggestion).
    loaded = await http.post(
        "/api/options",
        json={
            "user": "UALICE",
            "view_id": modal["id"],
            "action_id": "source_instance",
            "block_id": "source_instance",
            "value": "orders",
        },
    )
    texts = [o["text"]["text"] for o in loaded.json()["options"]]
    assert any(t.startswith("orders-prod") for t in texts), texts

    # Next without a source: the bot's response_action errors land on the fields.
    submitted = await http.post("/api/submit", json={"user": "UALICE", "view_id": modal["id"], "state": {}})
    assert "source_instance" in submitted.json()["errors"]
    assert (await seen_by(http, "UALICE"))["modal"]["errors"] == submitted.json()["errors"]

    await http.post("/api/close", json={"user": "UALICE", "everything": True})
    assert (await seen_by(http, "UALICE"))["modal"] is None
    assert running.slack.calls_of("views.open")[0].token == "xoxb-playground"


async def test_command_answers_are_ephemeral(playground: tuple[Playground, httpx.AsyncClient]) -> None:
    _running, http = playground
    await http.post("/api/command", json={"user": "UDAN", "text": "/ddm-restore help"})

    async def dans_help() -> list[dict[str, Any]] | None:
        return (await seen_by(http, "UDAN"))["ephemerals"] or None

    ephemerals = await eventually(dans_help, "no help for Dan")
    assert "/ddm-restore" in ephemerals[0]["text"]
    assert (await seen_by(http, "UALICE"))["ephemerals"] == []
    notice = await http.post("/api/command", json={"user": "UDAN", "text": "/giphy cats"})
    assert "not a command" in notice.json()["notice"]


async def test_cli_starts_with_no_settings_and_ignores_the_environment(tmp_path: Path) -> None:
    # Settings that would break `run` (and a .env pointing elsewhere) must not reach the playground.
    (tmp_path / ".env").write_text("SLACK_API_URL=http://127.0.0.1:9/api/\nDATABASE_URL=sqlite:////nonexistent/x\n")
    (tmp_path / "ddm-restore.toml").write_text(PROD_FILE)  # the bot's environments file: not the playground's
    env = clean_env() | {"SLACK_MODE": "socket", "REQUIRED_APPROVALS": "many", "PYTHONUNBUFFERED": "1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "playground",
        "--port",
        "0",
        "--job-seconds",
        "1",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line.startswith("Playground: open http://127.0.0.1:"), line
        url = line.split()[2]
        async with local_http(base_url=url) as http:
            assert (await http.post("/api/command", json={"user": "UALICE", "text": "/ddm-restore list"})).json() == {
                "ok": True
            }
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0


async def policy_seen_by_alice(http: httpx.AsyncClient) -> str:
    await http.post("/api/command", json={"user": "UALICE", "text": "/ddm-restore policy"})

    async def answer() -> str | None:
        ephemerals = (await seen_by(http, "UALICE"))["ephemerals"]
        return str(ephemerals[-1]["text"]) if ephemerals else None

    return await eventually(answer, "no answer to /ddm-restore policy")


async def test_a_ddm_restore_toml_where_it_runs_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ddm-restore.toml").write_text(PROD_FILE)
    async with Playground(port=0, job_seconds=0.5) as running, local_http(base_url=running.url) as http:
        policy = await policy_seen_by_alice(http)
    assert policy.startswith("*Restores here*: project `"), policy  # the playground's own environment
    assert "prod" not in policy and "S0LEADS" not in policy


async def test_config_file_gives_stages_and_the_urgent_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ddm-restore.toml").write_text(PROD_FILE)
    async with (
        Playground(port=0, job_seconds=0.5, config=STAGES) as running,
        local_http(base_url=running.url) as http,
    ):
        policy = await policy_seen_by_alice(http)
    lines = policy.splitlines()
    assert lines[0] == "*Environment playground*: project `0123456789abcdef0123456789abcdef` in cn-north-4", lines
    assert "Stage 1 (DBA lead): 1 of <@UBOB>" in lines, lines
    assert "Stage 2 (Service owner): 1 of <@UCAROL>" in lines, lines
    assert any(line.startswith("Urgent (break-glass): 1 of <@UCAROL>; reviewed within 0.1 h by") for line in lines)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "ddm-restore-bot: --config {path}: cannot read it: No such file or directory"),
        ("[[environment]\n", "ddm-restore-bot: --config {path}: not valid TOML: "),
        (
            PROD_FILE,
            "ddm-restore-bot: --config {path}: no environment serves the page's channel #ops: "
            'add channels = ["CPLAYOPS"] to one [[environment]]',
        ),
        (
            '[[environment]]\nname = "p"\nchannels = ["CPLAYOPS"]\n[[environment.stage]]\nname = "x"\napprovers = {}\n',
            "ddm-restore-bot: {path}: environment.p.stage[1].approvers: name at least one user or user group",
        ),
    ],
)
def test_a_bad_config_file_is_one_line_before_anything_starts(
    content: str | None, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "play.toml"
    if content is not None:
        path.write_text(content)
    assert main(["playground", "--port", "0", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    assert err.startswith(message.format(path=path)), err


async def test_the_home_tab_is_published_when_opened(playground: tuple[Playground, httpx.AsyncClient]) -> None:
    _running, http = playground
    assert (await seen_by(http, "UBOB"))["home"] is None
    assert (await http.post("/api/home", json={"user": "UBOB"})).json() == {"ok": True}

    async def bobs_home() -> dict[str, Any] | None:
        return (await seen_by(http, "UBOB"))["home"]

    home = await eventually(bobs_home, "the Home tab was never published")
    titles = [b["text"]["text"] for b in home["blocks"] if b["type"] == "header"]
    assert titles == ["Waiting for you", "Your requests", "Recent in your environments"]
    assert (await seen_by(http, "UALICE"))["home"] is None  # each person has their own
    page = await http.get("/")
    assert 'id="home-link"' in page.text and 'id="home"' in page.text


async def test_a_drill_started_from_the_page_restores_verifies_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with (
        Playground(port=0, job_seconds=0.5, config=DRILLS) as running,
        httpx.AsyncClient(base_url=running.url) as http,
    ):
        await http.post("/api/command", json={"user": "UALICE", "text": "/ddm-restore drill run orders drill"})

        async def started() -> str | None:
            texts = [e["text"] for e in (await seen_by(http, "UALICE"))["ephemerals"]]
            return next((t for t in texts if "Drill *orders drill*" in t), None)

        answer = await eventually(started, "no answer to the drill run")
        assert "started" in answer and "approved by the environments file" in answer, answer

        async def report() -> str | None:
            for message in (await seen_by(http, "UALICE"))["messages"]:
                for reply in message["replies"]:
                    if "Drill report" in reply.get("text", ""):
                        return str(message["blocks"]) + "\n" + str(reply["text"])
            return None

        # The playground's restored target shows RESTORE for 3 s before RUNNING: the verification waits for it.
        card_and_report = await eventually(report, "no drill report", timeout=20)
        assert "🧪 *Drill* orders drill" in card_and_report and "verification passed ✅" in card_and_report


async def mariadb_has(name: str) -> bool:
    """Whether a database and an account of that name exist on the machine's MariaDB (asked as root)."""
    connection = await asyncmy.connect(host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="", autocommit=True)
    try:
        async with connection.cursor() as cursor:
            await cursor.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (name,))
            databases = (await cursor.fetchone())[0]
            await cursor.execute("SELECT COUNT(*) FROM mysql.user WHERE user = %s", (name,))
            accounts = (await cursor.fetchone())[0]
    finally:
        connection.close()
    return bool(databases or accounts)


async def test_verify_mysql_ends_a_restore_verified_with_a_passing_check_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await require_mariadb()
    server = parse_server(f"{MARIADB_HOST}:{MARIADB_PORT}", "root")
    async with (
        Playground(port=0, job_seconds=0.5, config=DRILLS, verify_mysql=server) as running,
        httpx.AsyncClient(base_url=running.url) as http,
    ):
        assert running.checks_db is not None and await mariadb_has(running.checks_db.name)
        await http.post("/api/command", json={"user": "UALICE", "text": "/ddm-restore drill run orders drill"})

        async def verified() -> str | None:
            for message in (await seen_by(http, "UALICE"))["messages"]:
                for reply in message["replies"]:
                    if reply.get("text", "").startswith(("✅ Verified", "⚠️ Verification failed")):
                        return str(reply["text"]).splitlines()[0]  # a drill's report follows in the same reply
            return None

        line = await eventually(verified, "the restore was never verified", timeout=20)
        assert line.startswith("✅ Verified: ") and line.endswith(" · 1/1 checks passed"), line
        assert f" at {MARIADB_HOST}:{MARIADB_PORT} " in line, line
    assert not await mariadb_has(running.checks_db.name)  # dropped when the playground stopped


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--verify-mysql", "nowhere"], "ddm-restore-bot: --verify-mysql 'nowhere': give HOST:PORT"),
        (["--verify-mysql", "127.0.0.1:1"], "ddm-restore-bot: --verify-mysql 127.0.0.1:1: cannot connect to it"),
        (
            ["--verify-mysql", f"{MARIADB_HOST}:{MARIADB_PORT}", "--verify-mysql-admin", "nobody_here:wrong"],
            f"ddm-restore-bot: --verify-mysql {MARIADB_HOST}:{MARIADB_PORT}: the server refused the admin account",
        ),
    ],
)
def test_a_bad_verify_mysql_is_one_line_before_anything_starts(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["playground", "--port", "0", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    assert err.startswith(message), err
    assert "wrong" not in err  # never the password
