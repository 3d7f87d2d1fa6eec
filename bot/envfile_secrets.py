"""Where the environments file's secrets come from: environment variables (or `NAME_FILE` files) named by it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from bot.envfile_shape import CredentialsConfig


@dataclass(frozen=True)
class Credentials:
    """Resolved secrets of one environment: AK/SK (ak set) or IAM token auth (username set)."""

    ak: SecretStr | None = None
    sk: SecretStr | None = None
    security_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    domain: str | None = None

    @property
    def mode(self) -> Literal["aksk", "token"]:
        return "aksk" if self.ak else "token"


def credentials_from(key: str, c: CredentialsConfig, environ: Mapping[str, str]) -> tuple[Credentials, list[str]]:
    problems: list[str] = []

    def secret(field: str, name: str | None, *, required: bool = True) -> str | None:
        if not name:
            if required:
                problems.append(f"{key}.{field}: missing (name the environment variable that holds it)")
            return None
        value = read_secret(name, environ)
        if value is None and required:
            problems.append(f"{key}.{field}: {name} is not set (nor {name}_FILE)")
        return value

    aksk = c.ak_env or c.sk_env
    token = c.iam_username_env or c.iam_password_env or c.iam_domain_env
    if aksk and token:
        problems.append(f"{key}: use either ak_env/sk_env or iam_username_env/iam_password_env/iam_domain_env")
        return Credentials(), problems
    if aksk:
        ak, sk = secret("ak_env", c.ak_env), secret("sk_env", c.sk_env)
        security_token = secret("security_token_env", c.security_token_env, required=False)
        return Credentials(
            ak=secret_or_none(ak), sk=secret_or_none(sk), security_token=secret_or_none(security_token)
        ), problems
    if token:
        username = secret("iam_username_env", c.iam_username_env)
        password = secret("iam_password_env", c.iam_password_env)
        domain = secret("iam_domain_env", c.iam_domain_env)
        return Credentials(username=username, password=secret_or_none(password), domain=domain), problems
    problems.append(f"{key}: name ak_env and sk_env, or iam_username_env, iam_password_env and iam_domain_env")
    return Credentials(), problems


def read_secret(name: str, environ: Mapping[str, str]) -> str | None:
    """The value of variable `name`, or of the file `name_FILE` names (trailing newline dropped)."""
    value = environ.get(name)
    if value:
        return value
    file = environ.get(f"{name}_FILE")
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").rstrip("\r\n") or None
        except OSError:
            return None
    return None


def secret_or_none(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


def process_environ() -> dict[str, str]:
    """The process environment over `.env` (as the settings read them)."""
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(".env").items() if v is not None} if Path(".env").is_file() else {}
    values.update(os.environ)
    return values
