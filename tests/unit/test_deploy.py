"""The container image, compose file and Kubernetes manifests, checked without Docker or a cluster: they parse,
follow the rules below, and name only settings that exist (a renamed setting can't silently drop out)."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import SECRET_SETTINGS, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
SETTINGS = {name.upper() for name in Settings.model_fields}
FILE_SETTINGS = {f"{name.upper()}_FILE" for name in SECRET_SETTINGS}
DEFAULTS = Settings(_env_file=None)  # type: ignore[call-arg]


# ---- Dockerfile ----------------------------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined: list[str] = []
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    assert not current, "a continuation line at the end"
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in joined]


def stages(steps: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for step in steps:
        if step[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(step)
    return found


def test_dockerfile_is_multi_stage_slim_non_root_with_healthcheck_and_entrypoint() -> None:
    steps = instructions(ROOT / "Dockerfile")
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for kind, a in steps if kind == "ARG" and "=" in a}
    built = stages(steps)
    assert len(built) >= 2, "multi-stage: a build stage and a runtime stage"
    build, runtime = built[0], built[-1]
    assert re.search(r"\bAS build\b", build[0][1]), build[0]
    for stage in built:
        image = stage[0][1].split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert "slim" in image and ":" in image and not image.endswith(":latest"), image
    kinds = [kind for kind, _ in runtime]
    assert "ADD" not in [kind for kind, _ in steps], "COPY, never ADD (no remote URLs, no auto-extraction)"
    # Only the virtualenv comes over from the build stage: no compiler, no pip cache, no sources.
    copies = [a for kind, a in runtime if kind == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"], copies
    user = [a for kind, a in runtime if kind == "USER"]
    assert user and user[-1].split(":")[0].isdigit() and int(user[-1].split(":")[0]) > 0, user
    assert kinds.index("USER") < kinds.index("ENTRYPOINT")
    healthcheck = next(a for kind, a in runtime if kind == "HEALTHCHECK")
    command = json.loads(healthcheck.split("CMD", 1)[1].strip())
    assert command[:3] == ["python", "-m", "bot.serving.healthcheck"] and command[3] == "/healthz"
    entrypoint = json.loads(next(a for kind, a in runtime if kind == "ENTRYPOINT"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert entrypoint == ["ddm-restore-bot"] and "ddm-restore-bot" in scripts
    assert json.loads(next(a for kind, a in runtime if kind == "CMD")) == ["run"]
    exposed = [a for kind, a in runtime if kind == "EXPOSE"]
    env = " ".join(a for kind, a in runtime if kind == "ENV")
    assert exposed == [str(DEFAULTS.port)] and f"PORT={DEFAULTS.port}" in env
    for kind, arguments in steps:
        if kind == "RUN" and "pip install" in arguments:
            assert "--no-cache-dir" in arguments, arguments
        if kind == "ENV":
            names = {word.split("=", 1)[0] for word in shlex.split(arguments) if "=" in word}
            ours = (
                names
                - {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
                - {n for n in names if n.startswith("PIP_")}
            )
            assert ours <= SETTINGS, ours - SETTINGS


def test_dockerignore_lets_in_only_what_the_build_copies() -> None:
    rules = [r.strip() for r in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()]
    rules = [r for r in rules if r and not r.startswith("#")]
    assert rules[0] == "*", "deny everything first: no .env, .git or .venv can reach the build"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    copied = {
        source.rstrip("/")
        for kind, arguments in instructions(ROOT / "Dockerfile")
        if kind == "COPY" and "--from" not in arguments
        for source in arguments.split()[:-1]
    }
    assert copied == allowed == {"pyproject.toml", "README.md", "bot"}


def test_the_healthcheck_asks_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.serving.healthcheck import main
    from tests.support.processes import free_port

    monkeypatch.setenv("PORT", str(free_port()))
    assert main(["/healthz"]) == 1  # nobody listens


# ---- compose.yaml --------------------------------------------------------------------------------------------


def load_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def test_compose_has_postgres_two_replicas_and_the_simulator_as_an_option() -> None:
    (compose,) = load_yaml(ROOT / "compose.yaml")
    services = compose["services"]
    assert set(services) == {"postgres", "bot", "simulator"}
    bot, simulator = services["bot"], services["simulator"]
    assert bot["deploy"]["replicas"] == 2
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert (
        bot["environment"]["DATABASE_URL"].startswith("postgresql://")
        and "@postgres:5432/" in bot["environment"]["DATABASE_URL"]
    )
    assert simulator["profiles"] == ["simulator"] and "profiles" not in bot
    assert simulator["command"][0] == "simulator" and "0.0.0.0" in simulator["command"]
    assert bot["image"] == simulator["image"] and bot["build"] == simulator["build"] == "."
    grace = int(str(bot["stop_grace_period"]).rstrip("s"))
    assert grace >= DEFAULTS.submit_deadline_seconds + 5
    for name in ("bot", "simulator"):
        environment = services[name].get("environment", {})
        unknown = set(environment) - SETTINGS - FILE_SETTINGS
        assert not unknown, f"{name} names settings that don't exist: {unknown}"
    # The comments tell what to put in .env: those must be settings too.
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    named = set(re.findall(r"\b((?:HUAWEICLOUD|SLACK|DATABASE|LOG|APPROVER)_[A-Z_]+)\b", text))
    assert named and named <= SETTINGS | FILE_SETTINGS, named - SETTINGS


# ---- Kubernetes ------------------------------------------------------------------------------------------------


def manifests() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_yaml(path):
            assert isinstance(doc, dict) and doc.get("kind"), path
            found[doc["kind"]] = doc
    return found


def test_kubernetes_manifests_parse_and_hang_together() -> None:
    docs = manifests()
    assert {"Deployment", "Secret", "ConfigMap", "PodDisruptionBudget", "Service", "Kustomization"} <= set(docs)
    kustomization = docs["Kustomization"]
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )

    deployment = docs["Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    selector = spec["selector"]["matchLabels"]
    pod = spec["template"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    assert docs["Service"]["spec"]["selector"] == selector
    assert pod["spec"]["terminationGracePeriodSeconds"] >= DEFAULTS.submit_deadline_seconds + 5

    (container,) = pod["spec"]["containers"]
    port = container["ports"][0]["containerPort"]
    assert str(port) == docs["ConfigMap"]["data"]["PORT"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    dockerfile_user = next(a for k, a in instructions(ROOT / "Dockerfile")[::-1] if k == "USER")
    assert str(pod["spec"]["securityContext"]["runAsUser"]) == dockerfile_user.split(":")[0]
    assert {"configMapRef": {"name": docs["ConfigMap"]["metadata"]["name"]}} in container["envFrom"]


def test_kubernetes_names_only_settings_that_exist() -> None:
    docs = manifests()
    config = docs["ConfigMap"]["data"]
    assert set(config) <= SETTINGS, set(config) - SETTINGS
    assert not set(config) & {name.upper() for name in SECRET_SETTINGS}, "secrets belong in the Secret"
    # The ConfigMap's values are valid settings.
    Settings(_env_file=None, **{key.lower(): value for key, value in config.items() if value})  # type: ignore[call-arg]

    secret = docs["Secret"]
    keys = set(secret["stringData"])
    assert keys == {name.upper() for name in SECRET_SETTINGS}

    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volume = next(v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == secret["metadata"]["name"])
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert set(env) <= SETTINGS | FILE_SETTINGS, set(env) - SETTINGS - FILE_SETTINGS
    for name, path in env.items():
        if name.endswith("_FILE"):
            key = name.removesuffix("_FILE")
            assert path == f"{mounts[volume['name']]}/{key}" and key in keys, name
    assert {name.removesuffix("_FILE") for name in env if name.endswith("_FILE")} == keys
