"""The playground's environments: the settings' one, or those of `playground --config FILE`.

The bot finds an environments file in the folder it runs from (./ddm-restore.toml); the playground must not,
as it ignores `.env`: it hands the bot its environments itself. With `--config FILE` (an environments file
written for the playground's workspace, e.g. docs/playground-stages.toml) its stages and urgent path can be
tried in the page; whatever in it reaches the outside world (project, endpoints, credentials) is replaced by the
simulator's, so the file names only channels, people, groups and rules.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings
from bot.envfile import Setups, parse_config, settings_setup
from bot.playground.people import CHANNEL_ID, CHANNEL_NAME
from bot.simulator import SimulatorCredentials

# The names the rewritten file gives the simulator's credentials: looked up in a mapping of the playground's
# own, never in the process environment.
AK_NAME = "PLAYGROUND_AK"
SK_NAME = "PLAYGROUND_SK"
REGION = "cn-north-4"


def read_config(path: Path) -> dict[str, Any]:
    """The file as TOML; ConfigError (one line naming the file) when it can't be read, is not TOML, or has no
    environment for the page's channel."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {path}: not valid TOML: {exc}") from None
    environments = raw.get("environment")
    serves_page = isinstance(environments, list) and any(
        isinstance(env, dict) and isinstance(env.get("channels"), list) and CHANNEL_ID in env["channels"]
        for env in environments
    )
    if not serves_page:
        raise ConfigError(
            f'--config {path}: no environment serves the page\'s channel #{CHANNEL_NAME}: add channels = ["{CHANNEL_ID}"] '
            "to one [[environment]]"
        )
    return raw


def playground_setups(
    settings: Settings, config: dict[str, Any] | None, *, where: str, sim_url: str, credentials: SimulatorCredentials
) -> Setups:
    """The environments the bot serves: the settings' one, or the file's (see file_setups)."""
    if config is None:
        return Setups((settings_setup(settings),))
    return file_setups(config, where=where, sim_url=sim_url, credentials=credentials)


def file_setups(config: dict[str, Any], *, where: str, sim_url: str, credentials: SimulatorCredentials) -> Setups:
    """The file's environments on the simulator; ConfigError (one line per key, as `check` words them)."""
    rewritten = {
        **config,
        "environment": [_on_the_simulator(env, sim_url, credentials) for env in config["environment"]],
    }
    environ = {AK_NAME: credentials.ak or "", SK_NAME: credentials.sk or ""}
    return Setups(parse_config(rewritten, environ, where=where), Path(where))


def _on_the_simulator(env: Any, sim_url: str, credentials: SimulatorCredentials) -> Any:
    if not isinstance(env, dict):
        return env  # parse_config names what is wrong with it
    return {
        "region": REGION,
        **env,
        "project_id": credentials.project_id,
        "ddm_endpoint": sim_url,
        "iam_endpoint": sim_url,
        "credentials": {"ak_env": AK_NAME, "sk_env": SK_NAME},
    }
