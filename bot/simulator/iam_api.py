"""The IAM API: ``POST /v3/auth/tokens`` (password method, project scope) answers 201 with ``X-Subject-Token``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from bot.simulator.auth import bad_request, parse_token_request
from bot.simulator.state import json_answer, state_of


async def iam_token(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    try:
        data = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.") from None
    token_request = parse_token_request(data)
    # The project asked for picks the identity (one per project); unscoped, the user name does.
    project = state.project(token_request.project_id) or next(
        (p for p in state.projects.values() if p.credentials.username == token_request.username), state.primary
    )
    token, record = project.tokens.issue(token_request, state.now())
    nocatalog = request.query.get("nocatalog", "").lower() == "true"
    catalog = None if nocatalog else _catalog(request)
    body = project.tokens.token_body(record, token_request, catalog=catalog)
    return json_answer(body, status=201, headers={"X-Subject-Token": token})


def _catalog(request: web.Request) -> list[Any]:
    # One server plays both services, so the catalog points both at it.
    url = f"{request.scheme}://{request.host}"
    return [
        {
            "type": kind,
            "name": kind,
            "id": uuid.uuid5(uuid.NAMESPACE_URL, kind).hex,
            "endpoints": [
                {
                    "id": uuid.uuid5(uuid.NAMESPACE_URL, kind + url).hex,
                    "interface": "public",
                    "region": "*",
                    "region_id": "*",
                    "url": url,
                }
            ],
        }
        for kind in ("iam", "ddm")
    ]


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v3/auth/tokens", iam_token, name="iam_token")
