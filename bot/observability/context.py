"""The request id the current work is about: set where work on one request starts, read by every log line."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("ddm_request_id", default=None)

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")


def current_request_id() -> str | None:
    return REQUEST_ID.get()


@contextmanager
def about_request(request_id: str | None) -> Iterator[None]:
    """Log lines written inside carry `request_id` (tasks started inside inherit it too)."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


def _id_of(subject: object) -> str | None:
    if isinstance(subject, str):
        return subject
    value = getattr(subject, "id", None)
    return value if isinstance(value, str) else None


def for_request(
    method: Callable[Concatenate[S, T, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[S, T, P], Coroutine[Any, Any, R]]:
    """Decorate a method whose first argument is a request (or its id): its log lines carry that id."""

    @functools.wraps(method)
    async def wrapper(self: S, subject: T, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with about_request(_id_of(subject)):
            return await method(self, subject, *args, **kwargs)

    return wrapper
