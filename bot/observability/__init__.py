"""Observability: structured logs with no secret in them, the request id of each line, and Prometheus metrics.

- `context`: the request id a piece of work is about (a contextvar), for every log line it writes;
- `redact`: the secrets the bot knows and the shapes of those it doesn't, taken out of every log record;
- `logs`: the root logger's set-up (text or JSON lines), with the redaction filter on every handler;
- `metrics`: one Prometheus registry per Runtime, and what is read from the store at each scrape;
- `instrument`: what feeds them, on typed seams: DDM's httpx hooks, Slack's retry handler, the store's change
  observer (ChangeLog) and the desk's decorator (MeasuredDesk).
"""
