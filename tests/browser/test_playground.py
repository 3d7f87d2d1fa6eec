"""The playground page in headless Chromium: a request from the form to a completed restore, and a refusal.

Playwright drives the system's Chromium (/usr/bin/chromium; never a downloaded browser). Run with
`make test-browser`; `make test` leaves these out (marker `browser`). CI sets DDM_REQUIRE_BROWSER=1, so a
missing Chromium or Playwright fails there instead of skipping.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.playground.run import Playground

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REASON = "INC-4521 <i>drill</i> & co"
REQUIRED = os.environ.get("DDM_REQUIRE_BROWSER") == "1"

pytestmark = pytest.mark.browser

try:
    from playwright.async_api import Page, async_playwright, expect
except ImportError:  # pragma: no cover - the `browser` extra is not installed
    if REQUIRED:
        raise
    pytest.skip("playwright is not installed (pip install -e '.[browser]')", allow_module_level=True)
if not Path(CHROMIUM).exists():
    if REQUIRED:
        raise RuntimeError(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


@pytest_asyncio.fixture
async def page() -> AsyncIterator[tuple[Page, Playground]]:
    async with Playground(port=0, job_seconds=2.0) as playground, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = await browser.new_context(viewport={"width": 1500, "height": 950})
            tab = await context.new_page()
            tab.set_default_timeout(10_000)
            await tab.goto(playground.url)
            await expect(tab.locator("#who")).to_have_value("UALICE")
            yield tab, playground
        finally:
            await browser.close()


async def pick(tab: Page, block_id: str, typed: str, option: str) -> None:
    """Type into an external_select and choose the option the bot's options endpoint offered."""
    box = tab.locator(f'.modal [data-block-id="{block_id}"] input.ext-input')
    await box.click()
    await box.fill(typed)
    await tab.locator(f'.modal [data-block-id="{block_id}"] .ext-option', has_text=option).first.click()


async def request_restore(tab: Page, *, back_once: bool = False) -> Any:
    """Alice: command -> step 1 (source, default time, target) -> Next -> step 2 (mapping) -> card."""
    await tab.fill("#composer", "/ddm-restore")
    await tab.press("#composer", "Enter")
    step1 = tab.locator('.modal[data-callback-id="ddm_restore_source"]')
    await expect(step1).to_be_visible()
    await pick(tab, "source_instance", "orders", "orders-prod")
    # Choosing the source fills the restore window hint and defaults the picker to the latest minute.
    await expect(tab.locator('.modal [data-block-id="source_hint"]')).to_contain_text("Restorable")
    await expect(tab.locator('.modal [data-block-id="restore_time"] input')).not_to_have_value("")
    await pick(tab, "target_instance", "restore-1", "orders-restore-1")
    await tab.locator(".modal .modal-submit", has_text="Next").click()

    step2 = tab.locator('.modal[data-callback-id="ddm_restore_request"]')
    await expect(step2).to_be_visible()
    await expect(step2.locator('[data-block-id^="dn_map:"] select').first).not_to_have_value("")
    if back_once:
        # Back pops the pushed step and shows step 1 as it was left (views.push stack).
        await step2.locator(".modal-close", has_text="Back").click()
        await expect(step1).to_be_visible()
        await expect(step1.locator('[data-block-id="target_instance"] input')).to_have_value(
            re.compile("orders-restore-1")
        )
        await tab.locator(".modal .modal-submit", has_text="Next").click()
        await expect(step2).to_be_visible()
    await step2.locator('[data-block-id="reason"] input, [data-block-id="reason"] textarea').fill(REASON)
    await step2.locator(".modal-submit", has_text="Request approval").click()
    await expect(tab.locator("#modal-layer")).to_be_hidden()

    card = tab.locator("#messages .message", has_text="DDM restore request")
    await expect(card).to_contain_text("awaiting approval")
    await expect(card).to_contain_text("@alice")
    await expect(card).to_contain_text(REASON)  # people's text is shown as text, never as markup
    return card


async def approve(tab: Page, card: Any) -> None:
    await card.locator('[data-action-id="approve_request"]').click()
    dialog = tab.locator("#confirm-layer .confirm")
    await expect(dialog).to_contain_text("Approve this restore?")
    await dialog.locator(".confirm-yes").click()


async def test_request_approve_and_follow_the_job(page: tuple[Page, Playground]) -> None:
    tab, _playground = page
    card = await request_restore(tab)
    await expect(card).to_contain_text("@db-leads")  # the approvers' group, drawn from <!subteam^…>
    ARTIFACTS.mkdir(exist_ok=True)
    await card.screenshot(path=str(ARTIFACTS / "playground-card.png"))

    await tab.select_option("#who", "UBOB")
    await approve(tab, card)
    await card.locator(".replies-link").click()
    thread = tab.locator("#thread")
    await expect(thread).to_contain_text("approved")
    await expect(thread).to_contain_text("submitted to DDM", timeout=15_000)
    job = thread.locator(".message", has_text="submitted to DDM").locator("code")
    assert len((await job.first.inner_text()).strip()) >= 16  # the DDM job id
    await expect(thread).to_contain_text("Restore completed", timeout=30_000)
    await expect(card).to_contain_text("completed")
    await expect(card.locator('[data-action-id="approve_request"]')).to_have_count(0)
    await card.screenshot(path=str(ARTIFACTS / "playground-card-completed.png"))


async def test_requester_cannot_approve_own_request(page: tuple[Page, Playground]) -> None:
    tab, _playground = page
    card = await request_restore(tab, back_once=True)
    await approve(tab, card)
    refusal = tab.locator(".ephemeral", has_text="You can't approve your own request.")
    await expect(refusal).to_be_visible()
    await expect(card).to_contain_text("awaiting approval")

    # Ephemerals are for the clicker only.
    await tab.select_option("#who", "UBOB")
    await expect(tab.locator(".ephemeral")).to_have_count(0)
    await expect(card).to_contain_text("awaiting approval")
