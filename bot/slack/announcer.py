"""The announcer: delivers the outbox to Slack — cards, thread messages, and word to the requester.

Rows are claimed with a lease, so the rows of a replica that died are delivered by another. Each request's
notices go out in order; its card updates are coalesced into one redraw of its latest state, drawn before the
thread messages of the same drain (people look at the card first). Slack errors back off (honouring 429
Retry-After) and leave the rows for later, never given up; a deleted card is not redrawn, and when the channel
or thread is gone the requester is told directly.

Posted once: a row claimed before (the connection dropped after Slack posted, or its claimant died) is first
looked for in Slack by the metadata each message carries (bot.slack.posted), the card, a thread message and a
DM alike; a look-up that fails leaves the row for a later try (a missing scope says which, as an ERROR), it never
posts blind. Only an ephemeral can't be looked for: one whose connection dropped is not sent again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from itertools import groupby

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import StoreUnavailable
from bot.observability.context import for_request
from bot.ports import OutboxRow, RequestRepository
from bot.restore.lifecycle import Event
from bot.restore.notices import Notice, ParamValue
from bot.restore.request import SYSTEM, RestoreRequest
from bot.runtime.held import ClaimLost, while_held
from bot.slack.blocks import card_fallback_text, request_card
from bot.slack.blocks.card import CardPeople
from bot.slack.blocks.messages import reminder_people, review_blocks
from bot.slack.home import HomePublisher
from bot.slack.notifier import NOT_IN_CHANNEL, invite_hint, tell
from bot.slack.posted import Lookups, Tag, card_tag, notice_tag, oldest_for
from bot.slack.retries import method_of

log = logging.getLogger(__name__)
Render = Callable[[RestoreRequest, Notice, Mapping[str, ParamValue]], str]
TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
LOUD_AFTER_ATTEMPTS = 5  # from then on each failure is logged as an error
# Fewer requests per claim: their delivery (with Slack's own 429 waits) must fit well inside the claim's lease.
REQUESTS_PER_DRAIN = 5
# The card was deleted or can't be edited: nothing to redraw. The channel is gone: tell the requester directly.
CARD_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
CHANNEL_GONE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "thread_not_found"})
# No DM can reach this person (deactivated, a bot): the others' are still sent.
CANT_DM = frozenset({"user_not_found", "user_disabled", "cannot_dm_bot", "channel_not_found"})
MAX_BACKOFF_SECONDS = 300.0
FIRST_RETRY_SECONDS = 0.5  # then doubling: a hiccup is over in a second, an outage gets spaced out


class Announcer:
    def __init__(
        self,
        *,
        store: RequestRepository,
        client: AsyncWebClient,
        render: Render,
        approvers: str | Callable[[RestoreRequest], str | CardPeople],
        clock: Callable[[], datetime],
        owner: str | None = None,
        lease_seconds: float = 30.0,
        interval: float = 1.0,
        home: HomePublisher | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.client = client
        self.lookups = Lookups(client)
        self.render = render
        # Who approves, as the card says it: one text, or the request's environment's.
        self.approvers = approvers if callable(approvers) else (lambda _request, text=approvers: text)
        self.clock = clock
        self.owner = owner or f"announcer-{uuid.uuid4().hex[:12]}"
        self.lease_seconds = lease_seconds
        self.interval = interval
        self.home = home
        self.sleep = sleep

    async def step(self) -> float:
        """Deliver what is due; returns the delay until the next drain."""
        rows = await self.store.outbox.claim(
            self.owner, now=self.clock(), lease_seconds=self.lease_seconds, requests=REQUESTS_PER_DRAIN
        )
        for request_id, group in groupby(rows, key=lambda row: row.request_id):
            # Slack may have kept us waiting on the requests before this one: hold the claim afresh, and leave
            # the rows alone if another replica took them meanwhile (else both would post them).
            if not await self._renew(request_id):
                continue
            try:
                # Held while it is delivered: one Slack call with its retries may outlast a lease. What it then
                # writes (done, or tried again later) gives the rows up: written once the holding has ended.
                written = await while_held(
                    self._deliver(request_id, list(group)),
                    renew=functools.partial(self._renew, request_id),
                    every=self.lease_seconds / 3,
                    sleep=self.sleep,
                    what=f"the notices of {request_id}",
                )
                await written()
            except ClaimLost:
                continue  # the replica that took them over delivers them (each looked for in Slack first)
            except StoreUnavailable:
                raise  # the loop backs off; the claims run out and the rows are delivered later
            except Exception:
                # A bug in drawing one request's notices must not hold up every other request's.
                log.exception("delivering the notices of %s failed", request_id)
                await self.store.outbox.retry_later(
                    request_id, self.owner, due=self.clock() + timedelta(seconds=MAX_BACKOFF_SECONDS), error="bug"
                )
        return 0.0 if rows else self.interval

    async def _renew(self, request_id: str) -> bool:
        return await self.store.outbox.renew(request_id, self.owner, now=self.clock(), lease_seconds=self.lease_seconds)

    async def close(self) -> None:
        try:
            await self.store.outbox.release(self.owner)
        except Exception:
            log.debug("could not give back the outbox rows of %s", self.owner)

    # ---- one request ---------------------------------------------------------------------------------------

    @for_request
    async def _deliver(self, request_id: str, rows: list[OutboxRow]) -> Callable[[], Awaitable[None]]:
        """Deliver a request's notices; returns what to write of them: which are done, and when to try the rest."""
        request = await self.store.get(request_id)
        if request is None:
            return functools.partial(self._written, request_id, [row.seq for row in rows])
        delivered: list[int] = []
        drawn: RestoreRequest | None = None  # the state the card was just posted with
        try:
            cards = [row for row in rows if row.notice is Notice.CARD]
            if cards and request.message_ts is None:
                posted = await self._post_card(
                    request,
                    retried=max(row.attempts for row in cards) > 1,
                    oldest=oldest_for(min(row.created_ms for row in cards)),
                )
                if posted is None:  # it can't be posted: the request was cancelled, the requester told
                    return functools.partial(self._written, request_id, [row.seq for row in rows])
                request, drawn = posted
            if cards:
                # The card first: it is what people look at, and the thread then tells of what it shows.
                await self._redraw_card(request_id, unless_drawn=drawn)
                delivered.extend(row.seq for row in cards)
            for row in rows:
                if row.notice is not Notice.CARD:
                    await self._deliver_one(request, row)
                    delivered.append(row.seq)
        except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            return functools.partial(self._written, request_id, delivered, failed=(rows, exc))
        await self._mark_homes(request_id)  # before the rows are done: a crash redoes it with their delivery
        return functools.partial(self._written, request_id, delivered)

    async def _written(
        self, request_id: str, delivered: list[int], *, failed: tuple[list[OutboxRow], Exception] | None = None
    ) -> None:
        await self.store.outbox.done(delivered, now=self.clock())
        if failed is not None:
            await self._retry_later(request_id, *failed)

    async def _mark_homes(self, request_id: str) -> None:
        """The App Home of everyone the request concerns is stale: published by whichever replica claims it
        (bot.slack.home_refresh). Slack failing to say who is in a group, or a bug here, costs a stale tab until
        its next change or opening, never the notices."""
        if self.home is None:
            return
        try:
            request = await self.store.get(request_id)
            if request is not None:
                await self.home.mark_for(request)
        except StoreUnavailable:
            raise  # the rows' `done` could not be written either: they are delivered again, and marked then
        except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("the App Homes after %s were not marked stale: %s", request_id, _slack_error(exc))
        except Exception:
            log.exception("marking the App Homes after %s stale failed", request_id)  # a bug: never the notices

    async def _deliver_one(self, request: RestoreRequest, row: OutboxRow) -> None:
        text = self.render(request, row.notice, row.params)
        retried, oldest = row.attempts > 1, oldest_for(row.created_ms)
        if row.notice is Notice.CARD_NOT_POSTED:
            tag = notice_tag(request.id, row.seq, to="requester")
            if retried and await self.lookups.in_dm(request.requester_id, tag, oldest=oldest):
                return  # an earlier try's DM got through
            await tell(self.client, request.requester_id, request.channel_id, text, metadata=tag.metadata())
            return
        if row.notice is Notice.TARGET_ADDRESS:  # the verified target's address, to the requester
            tag = notice_tag(request.id, row.seq, to="requester")
            await self._dm(request.requester_id, text, tag, retried=retried, oldest=oldest)
            return
        if request.message_ts is None:
            log.warning("no card for %s; %s message dropped", request.id, row.notice.value)
            return
        tag = notice_tag(request.id, row.seq)
        try:
            if not (
                retried and await self.lookups.in_thread(request.channel_id, request.message_ts, tag, oldest=oldest)
            ):
                await self.client.chat_postMessage(
                    channel=request.channel_id,
                    thread_ts=request.message_ts,
                    text=text,
                    blocks=review_blocks(request, text) if row.notice is Notice.REVIEW_DUE else None,
                    unfurl_links=False,
                    metadata=tag.metadata(),
                )
        except SlackApiError as exc:
            if _slack_error(exc) not in CHANNEL_GONE:
                raise
            # The channel or the card's thread is gone (archived, the bot removed): the requester still hears.
            log.warning("the thread of %s is gone (%s); telling the requester directly", request.id, _slack_error(exc))
            to_requester = notice_tag(request.id, row.seq, to="requester")
            await self._dm(request.requester_id, f"{request.id}: {text}", to_requester, retried=retried, oldest=oldest)
        if row.notice is Notice.REVIEW_REMINDER and request.review is not None:
            await self._remind_reviewers(request, row)
        if row.notice in (Notice.REMINDER, Notice.ESCALATION, Notice.NUDGE):
            users, groups = reminder_people(row.params)
            await self._dm_people(request, row, set(users), groups, text, to="approver")

    async def _remind_reviewers(self, request: RestoreRequest, row: OutboxRow) -> None:
        """A DM to each reviewer (the members of reviewer groups too) with a link to the thread."""
        assert request.review is not None
        text = f"⏰ The follow-up review of urgent restore {request.id} is overdue: please review it"
        await self._dm_people(request, row, set(request.review.user_ids), request.review.group_ids, text, to="reviewer")

    async def _dm_people(
        self, request: RestoreRequest, row: OutboxRow, people: set[str], groups: Iterable[str], text: str, *, to: str
    ) -> None:
        """A DM to each of `people` and the members of `groups`, with a link to the request's thread; each DM is
        tagged, so that a retry finds what an earlier try sent (bot.slack.posted)."""
        for group in sorted(groups):
            answer = await self.client.usergroups_users_list(usergroup=group)
            people.update(str(user) for user in answer.get("users") or [])
        link = await self._permalink(request.channel_id, request.message_ts or "")
        where = f" <{link}|in its thread>" if link else f" in <#{request.channel_id}>"
        tag = notice_tag(request.id, row.seq, to=to)
        for user_id in sorted(people):
            await self._dm(
                user_id, f"{text.rstrip('.')}{where}.", tag, retried=row.attempts > 1, oldest=oldest_for(row.created_ms)
            )

    async def _dm(self, user_id: str, text: str, tag: Tag, *, retried: bool, oldest: str) -> None:
        """A DM, unless an earlier try's is there."""
        try:
            if retried and await self.lookups.in_dm(user_id, tag, oldest=oldest):
                return
            await self.client.chat_postMessage(channel=user_id, text=text, metadata=tag.metadata())
        except SlackApiError as exc:
            if _slack_error(exc) not in CANT_DM:
                raise
            log.warning("no DM can reach %s (%s); not sent", user_id, _slack_error(exc))

    async def _post_card(
        self, request: RestoreRequest, *, retried: bool, oldest: str
    ) -> tuple[RestoreRequest, RestoreRequest | None] | None:
        """Post the card (unless an earlier try's is there); returns the request with its card, and the state the
        card shows if it was drawn now (None when found: it shows the earlier try's, to be redrawn). None when it
        can't be posted."""
        ts: str | None = None
        drawn: RestoreRequest | None = None
        if retried:
            try:
                ts = await self.lookups.card(request.channel_id, card_tag(request.id), oldest=oldest)
            except SlackApiError as exc:
                if _slack_error(exc) not in NOT_IN_CHANNEL:
                    raise
                # The bot can't read the channel, so it can't post there either: the post below says so.
        if ts is None:
            try:
                answer = await self.client.chat_postMessage(
                    channel=request.channel_id,
                    text=card_fallback_text(request),
                    blocks=[b.to_dict() for b in request_card(request, approvers=self.approvers(request))],
                    unfurl_links=False,
                    metadata=card_tag(request.id).metadata(),
                )
            except SlackApiError as exc:
                error = str(exc.response.get("error", ""))
                if error not in NOT_IN_CHANNEL:
                    raise
                await self._card_not_posted(request, invite_hint(request.channel_id))
                return None
            ts, drawn = str(answer["ts"]), request
        permalink = await self._permalink(request.channel_id, ts)
        await self.store.set_message(request.id, channel_id=request.channel_id, message_ts=ts, permalink=permalink)
        return (await self.store.get(request.id) or request), drawn

    async def _card_not_posted(self, request: RestoreRequest, reason: str) -> None:
        await self.store.transition(
            request.id,
            Event.CARD_NOT_POSTED,
            actor=SYSTEM,
            now=self.clock(),
            values={"decided_by": SYSTEM, "decision_note": reason},
            details={"reason": reason},
            params={"reason": reason},
        )

    async def _redraw_card(self, request_id: str, *, unless_drawn: RestoreRequest | None = None) -> None:
        # Drawn from the request as it is now: the newest state wins, whatever the order of the notices.
        latest = await self.store.get(request_id)
        if latest is None or latest.message_ts is None:
            return
        if unless_drawn is not None and _looks(unless_drawn) == _looks(latest):
            return  # the card was just posted showing this very state
        try:
            await self.client.chat_update(
                channel=latest.channel_id,
                ts=latest.message_ts,
                text=card_fallback_text(latest),
                blocks=[b.to_dict() for b in request_card(latest, approvers=self.approvers(latest))],
            )
        except SlackApiError as exc:
            if _slack_error(exc) not in CARD_GONE | CHANNEL_GONE:
                raise
            log.warning("the card of %s can't be redrawn (%s); the thread goes on", request_id, _slack_error(exc))

    async def _retry_later(self, request_id: str, rows: list[OutboxRow], exc: Exception) -> None:
        # Never given up: what people must hear (how a restore ended) waits for Slack, however long; the outbox's
        # oldest age is what to alert on (see the README's alerts).
        attempts = max(row.attempts for row in rows)
        error = _slack_error(exc)
        delay = min(MAX_BACKOFF_SECONDS, FIRST_RETRY_SECONDS * float(2 ** min(max(attempts - 1, 0), 10)))
        if isinstance(exc, SlackApiError):
            retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
            if error == "ratelimited" and retry_after:
                delay = max(1.0, float(retry_after))
        if error == "missing_scope" and isinstance(exc, SlackApiError):
            # Not Slack's hiccup: the app lacks a scope (installed before it was added). Loud, and what to do.
            needed, method = exc.response.get("needed"), method_of(str(exc.response.api_url))
            log.error(
                "Slack refused %s: the app lacks the %s scope. Add it (manifest.yml has it) and reinstall the app; "
                "the notices of %s wait until then (try %d; again in %.0f s)",
                method,
                needed,
                request_id,
                attempts,
                delay,
            )
        else:
            level = logging.ERROR if attempts >= LOUD_AFTER_ATTEMPTS else logging.WARNING
            log.log(
                level, "Slack failed delivering %s (%s, try %d); again in %.0f s", request_id, error, attempts, delay
            )
        await self.store.outbox.retry_later(
            request_id, self.owner, due=self.clock() + timedelta(seconds=delay), error=error
        )

    async def _permalink(self, channel_id: str, ts: str) -> str | None:
        try:
            answer = await self.client.chat_getPermalink(channel=channel_id, message_ts=ts)
        except Exception:
            log.info("no permalink for %s/%s", channel_id, ts)
            return None
        link = answer.get("permalink")
        return str(link) if link else None


def _looks(request: RestoreRequest) -> tuple[object, ...]:
    """What the card shows of a request that can change."""
    return (request.state, request.job_progress, request.approvals, request.error_code, request.review)


def _slack_error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError) and exc.response is not None:
        return str(exc.response.get("error") or "unknown_error")
    return type(exc).__name__
