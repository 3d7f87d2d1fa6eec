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


STAGES = Path(__file__).resolve().parents[2] / "docs" / "playground-stages.toml"


@pytest_asyncio.fixture(params=[None])
async def page(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Page, Playground]]:
    """The page in Chromium; parametrize indirectly with an environments file for `--config`."""
    async with Playground(port=0, job_seconds=2.0, config=request.param) as playground, async_playwright() as pw:
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


async def request_restore(
    tab: Page, *, back_once: bool = False, urgent: bool = False, pending: str = "awaiting approval"
) -> Any:
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
    if urgent:
        await step2.locator('[data-block-id="urgent"] input[type="checkbox"]').check()
        await step2.locator('[data-block-id="incident"] input').fill("INC-9001")
    await step2.locator(".modal-submit", has_text="Request approval").click()
    await expect(tab.locator("#modal-layer")).to_be_hidden()

    card = tab.locator("#messages .message", has_text="DDM restore request").last
    await expect(card).to_contain_text(pending)
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


async def test_the_message_pane_scrolls_by_itself_and_shows_the_newest(page: tuple[Page, Playground]) -> None:
    """After several cards the page itself never scrolls: the header, the person switcher and the message box stay
    in view, and the newest message is shown at the bottom of the pane."""
    tab, _playground = page
    for _ in range(3):
        card = await request_restore(tab)
        await card.locator('[data-action-id="cancel_request"]').click()  # frees the target for the next one
        await expect(card).to_contain_text("ancelled")
    await tab.fill("#composer", "/ddm-restore help")
    await tab.press("#composer", "Enter")
    newest = tab.locator("#messages > .message").last
    await expect(newest).to_contain_text("/ddm-restore")  # the help, only for alice

    pane = await tab.evaluate(
        """() => {
            const box = document.getElementById("messages");
            const last = box.lastElementChild.getBoundingClientRect();
            const shown = box.getBoundingClientRect();
            return {
                overflows: box.scrollHeight > box.clientHeight,
                pageScrolls: document.scrollingElement.scrollHeight > window.innerHeight,
                pageScrollY: window.scrollY,
                lastInPane: last.bottom <= shown.bottom + 1 && last.top >= shown.top - 1,
            };
        }"""
    )
    assert pane == {"overflows": True, "pageScrolls": False, "pageScrollY": 0, "lastInPane": True}, pane
    for part in ("#channel-header", "#who", "#composer", "#send"):
        await expect(tab.locator(part)).to_be_in_viewport(ratio=1)
    await expect(newest).to_be_in_viewport()
    ARTIFACTS.mkdir(exist_ok=True)
    await tab.screenshot(path=str(ARTIFACTS / "playground-many-cards.png"))

    # A new card from someone else's action lands in view too, while the person is at the bottom.
    await tab.select_option("#who", "UBOB")
    await tab.fill("#composer", "/ddm-restore help")
    await tab.press("#composer", "Enter")
    await expect(tab.locator("#messages > .message").last).to_contain_text("/ddm-restore")
    await expect(tab.locator("#messages > .message").last).to_be_in_viewport()


@pytest.mark.parametrize("page", [STAGES], indirect=True)
async def test_stages_and_the_urgent_path_with_a_config_file(page: tuple[Page, Playground]) -> None:
    tab, _playground = page
    card = await request_restore(tab, pending="stage 1 of 2")
    await expect(card).to_contain_text("⏳ DBA lead — waiting for @bob (0/1)")
    await tab.select_option("#who", "UBOB")
    await approve(tab, card)
    await expect(card).to_contain_text("✅ DBA lead — @bob")
    await expect(card).to_contain_text("⏳ Service owner — waiting for @carol (0/1)")
    ARTIFACTS.mkdir(exist_ok=True)
    await card.screenshot(path=str(ARTIFACTS / "playground-card-stages.png"))

    # The urgent path: the form offers the break-glass checkbox; only carol decides.
    await card.locator('[data-action-id="cancel_request"]').click()  # bob can't; alice cancels below
    await tab.select_option("#who", "UALICE")
    await card.locator('[data-action-id="cancel_request"]').click()
    await expect(card).to_contain_text("ancelled")
    urgent = await request_restore(tab, urgent=True, pending="URGENT")
    await tab.select_option("#who", "UCAROL")
    await approve(tab, urgent)
    await expect(urgent).to_contain_text("Approved by @carol", timeout=15_000)
    await urgent.screenshot(path=str(ARTIFACTS / "playground-card-urgent.png"))
