"""`python -m bot.serving.healthcheck [/healthz]`: exit 0 when the bot on this host answers 200 there.

The container image's HEALTHCHECK (the slim image has no curl). It reads only PORT and imports nothing heavy.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = args[0] if args else "/healthz"
    url = f"http://127.0.0.1:{os.environ.get('PORT') or '3000'}{path}"
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"{url}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
