"""Where the tests' PostgreSQL is, and whether it must be there.

DDM_TEST_POSTGRES_URL points at a server (default: postgresql://postgres@127.0.0.1:5432/postgres); with
DDM_REQUIRE_POSTGRES=1 (CI sets it) an unreachable server fails the PostgreSQL tests instead of skipping them.
"""

from __future__ import annotations

import os

POSTGRES_ADMIN_URL = os.environ.get("DDM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("DDM_REQUIRE_POSTGRES") == "1"


def asyncpg_url(database: str) -> str:
    """The bot's URL (postgresql+asyncpg://…) of `database` on the tests' server."""
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + database
