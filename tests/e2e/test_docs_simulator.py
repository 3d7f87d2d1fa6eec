"""docs/simulator.md stays true: its shell blocks run, as written, against `ddm-restore-bot simulator`.

The only changes to the page's text: the port (a free one instead of 9000) and the wait for a restore (the
simulator here runs 1-second restores instead of 20-second ones). Every curl call carries an expected status in
the comment above it (``# → 202 ...``); the statuses the calls really got must be those.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from bot.cli import DEMO_AK, DEMO_IAM_DOMAIN, DEMO_IAM_PASSWORD, DEMO_IAM_USERNAME, DEMO_PROJECT_ID, DEMO_SK
from tests.support.http import local_http
from tests.support.processes import clean_env, free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
DOC_URL = "http://127.0.0.1:9000"
DOC_WAIT = "sleep 21"
# Every curl of the page goes through this: it also reports each answer's status on stderr.
CURL_PROBE = (
    "curl() { command curl --max-time 10 -w '%{stderr}→ %{http_code} %{method} %{url_effective}\\n' \"$@\"; }\n"
)


def shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def expected_statuses(script: str) -> list[int]:
    return [int(code) for code in re.findall(r"^# → (\d{3})\b", script, flags=re.M)]


def curl_calls(script: str) -> int:
    code = [line for line in script.splitlines() if not line.lstrip().startswith("#")]
    return sum(len(re.findall(r"(?<![\w-])curl ", line)) for line in code)


@pytest_asyncio.fixture
async def simulator(tmp_path: Path) -> AsyncIterator[str]:
    """`ddm-restore-bot simulator` as the page starts it: no settings at all, so the demo credentials."""
    port = free_port()
    log = (tmp_path / "simulator.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "simulator",
        "--port",
        str(port),
        "--job-seconds",
        "1",
        env=clean_env(),
        cwd=tmp_path,  # no .env here
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with local_http(timeout=1) as http:
            for _ in range(300):
                try:
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError((tmp_path / "simulator.log").read_text())
        yield base
    finally:
        process.terminate()
        await process.wait()
        log.close()


def test_the_page_names_the_real_start_command_and_credentials() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "ddm-restore-bot simulator --port 9000" in text
    for value in (DEMO_PROJECT_ID, DEMO_IAM_USERNAME, DEMO_IAM_PASSWORD, DEMO_IAM_DOMAIN, DEMO_AK, DEMO_SK):
        assert f"`{value}`" in text
    script = "\n".join(shell_blocks())
    assert DOC_URL in script and DOC_WAIT in script
    assert curl_calls(script) == len(expected_statuses(script)) > 15  # every call says what it answers


README = DOC.parents[1] / "README.md"


def readme_tour() -> str:
    """The README's curl tour: the shell blocks of its simulator section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The DDM simulator") : text.index("\n## ", text.index("## The DDM simulator") + 5)]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, flags=re.S))


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's examples need curl")
async def test_the_readme_tour_works(simulator: str) -> None:
    script = readme_tour()
    assert curl_calls(script) == len(expected_statuses(script)) >= 5
    runnable = "set -euo pipefail\n" + CURL_PROBE + script.replace(DOC_URL, simulator)
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", runnable, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out_bytes, err_bytes = await asyncio.wait_for(process.communicate(), timeout=60)
    out, err = out_bytes.decode(), err_bytes.decode()
    assert process.returncode == 0, f"{out}\n{err}"
    assert [int(code) for code in re.findall(r"^→ (\d{3}) ", err, flags=re.M)] == expected_statuses(script), err
    assert re.search(r"^job: [0-9a-f]{32}$", out, flags=re.M) and '"status":"Running"' in out, out


@pytest.mark.skipif(shutil.which("curl") is None, reason="the page's examples need curl")
async def test_every_curl_on_the_page_works(simulator: str) -> None:
    script = "\n".join(shell_blocks())
    runnable = "set -euo pipefail\n" + CURL_PROBE + script.replace(DOC_URL, simulator).replace(DOC_WAIT, "sleep 1.5")
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", runnable, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out_bytes, err_bytes = await asyncio.wait_for(process.communicate(), timeout=60)
    out, err = out_bytes.decode(), err_bytes.decode()
    assert process.returncode == 0, f"{out}\n{err}"
    got = [int(code) for code in re.findall(r"^→ (\d{3}) ", err, flags=re.M)]
    assert got == expected_statuses(script), err
    for words in (
        "token: MII",
        '"total":7',
        '"restorable_time_intervals":[{"start_time":',
        '"status":"Running"',
        '"end_time":"","process":"',
        # The job list holds the job just started (flattened instance fields: only the list has them).
        '"instance_id":"2f0324a93859487eb5566d75951fcd2din09","instance_name":"orders-restore-1"}',
        "Parameter error: target.instance_id is missing",
        "Parameter error: restore_time 123 is outside the restorable window of instance",
        "Parameter error: limit must be 1..128, not 500",
        "The task does not exist: no job 'nope'",
        "The instance is being restored.",
        '"status":"Completed"',
        '"by_route":{',
        '"reset":true,"jobs_removed":1,"targets_freed":["orders-restore-1"]',
    ):
        assert words in out, f"{words!r} not in:\n{out}"
    job_id = re.search(r"^job: ([0-9a-f]{32})$", out, flags=re.M)
    assert job_id is not None, out
    async with local_http(base_url=simulator) as http:
        world = (await http.get("/_sim/world")).json()
        calls = (await http.get("/_sim/calls")).json()
    # After the page's reset: the seed's two jobs only, and an empty call log.
    assert {j["id"] for j in world["jobs"]} == {"3b8e1c5a7d9f4e2b8c6a0d4f2e8b1c7a", "6e5d4c3b2a1948f7a6e5d4c3b2a19f8e"}
    assert calls == []
