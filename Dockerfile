# syntax=docker/dockerfile:1
# ddm-restore-bot: a slim image that runs as a non-root user.
#   docker build -t ddm-restore-bot:0.1.0 .
#   docker run --env-file .env -p 3000:3000 ddm-restore-bot:0.1.0          # = ddm-restore-bot run
#   docker run --env-file .env ddm-restore-bot:0.1.0 check                 # any subcommand
# The same Python as CI; every dependency installs from wheels, so the image needs no compiler.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: install the package and its dependencies into a virtualenv ----------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
# A regular (not editable) install: the migrations and the playground page go in as package data.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir . \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# ---- runtime: the virtualenv and nothing else --------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="ddm-restore-bot" \
      org.opencontainers.image.description="Slack chat-ops bot: approved point-in-time restores of Huawei Cloud DDM instances" \
      org.opencontainers.image.version="0.1.0"
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /app --no-create-home --shell /usr/sbin/nologin bot \
    && mkdir -p /app && chown bot:bot /app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOG_FORMAT=json \
    PORT=3000
# The working directory is the only writable place the bot needs (a SQLite file, for a single replica only).
WORKDIR /app
USER 10001:10001
# /healthz, /readyz, /metrics in both modes; POST /slack/events in HTTP mode.
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-m", "bot.serving.healthcheck", "/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["ddm-restore-bot"]
CMD ["run"]
