"""The container image, compose file and Kubernetes manifests, checked without Docker or a cluster: they parse,
follow the rules below, and name only settings that exist (a renamed setting can't silently drop out); and what
the README's "Running in production" says of them holds."""

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
from bot.envfile import parse_config
from bot.runtime.bounds import WATCHDOG_STEP_SECONDS, Bounds

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
ENVIRONMENTS_EXAMPLE = ROOT / "deploy" / "environments" / "ddm-restore.example.toml"
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


def test_compose_gives_the_database_url_as_a_secret_file() -> None:
    (compose,) = load_yaml(ROOT / "compose.yaml")
    services, secrets = compose["services"], compose["secrets"]
    bot, postgres = services["bot"], services["postgres"]
    # The README: secrets as files, never as variables (they show in `docker inspect` and process listings).
    for name, service in services.items():
        environment = service.get("environment", {})
        given = {key for key, value in environment.items() if key.lower() in SECRET_SETTINGS and value}
        assert not given, f"{name} passes {given} as plain variables"
    assert bot["environment"]["DATABASE_URL"] == "", "blank: overrides a DATABASE_URL in .env (both would be refused)"
    path = bot["environment"]["DATABASE_URL_FILE"]
    assert path.startswith("/run/secrets/") and path.removeprefix("/run/secrets/") in bot["secrets"]
    password = postgres["environment"]["POSTGRES_PASSWORD_FILE"]
    assert (
        password.removeprefix("/run/secrets/") in postgres["secrets"]
        and "POSTGRES_PASSWORD" not in postgres["environment"]
    )
    for name in [*bot["secrets"], *postgres["secrets"]]:
        assert set(secrets[name]) == {"file"}, name
    assert "${POSTGRES_PASSWORD" not in (ROOT / "compose.yaml").read_text(encoding="utf-8")
    # The commands that write those files (README and the compose file's comments) write the files compose reads.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in [*bot["secrets"], *postgres["secrets"]]:
        assert f"> {secrets[name]['file'].removeprefix('./')}" in readme, name


def test_compose_publishes_each_replicas_port_on_this_host_as_the_readme_curls_it() -> None:
    (compose,) = load_yaml(ROOT / "compose.yaml")
    bot = compose["services"]["bot"]
    (published,) = bot["ports"]
    host, ports, container = published.split(":")
    first, last = (int(port) for port in ports.split("-"))
    assert host == "127.0.0.1", "/metrics, /healthz and /readyz are not for the world"
    assert int(container) == int(bot["environment"]["PORT"]) == DEFAULTS.port
    assert last - first + 1 == bot["deploy"]["replicas"], "one host port per replica"
    checked = production_section().split("### 2. Check it", 1)[1]
    curled = {int(port) for port in re.findall(r"curl -s localhost:(\d+)/", checked)}
    assert curled and curled <= set(range(first, last + 1)), curled


def test_the_environments_file_is_mounted_in_compose_and_kubernetes() -> None:
    example = ENVIRONMENTS_EXAMPLE.read_text(encoding="utf-8")
    (compose,) = load_yaml(ROOT / "compose.yaml")
    (mount,) = [v for v in compose["services"]["bot"]["volumes"] if v.get("target") == "/etc/ddm-restore-bot"]
    assert (ROOT / mount["source"]).resolve() == ENVIRONMENTS_EXAMPLE.parent and mount["read_only"] is True

    config_map = manifest("ConfigMap", "ddm-restore-bot-environments")
    ((key, text),) = config_map["data"].items()
    assert text == example, "the ConfigMap ships the same example as deploy/environments"
    pod = manifest("Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == "ddm-restore-bot-environments"]
    (container,) = pod["containers"]
    (k8s_mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert k8s_mount["mountPath"] == mount["target"] and k8s_mount["readOnly"] is True
    path = f"{k8s_mount['mountPath']}/{key}"
    # Where both say to point DDM_RESTORE_CONFIG, and that the setting is there to set.
    assert "DDM_RESTORE_CONFIG" in manifest("ConfigMap", "ddm-restore-bot")["data"]
    for text_naming_it in ((K8S / "configmap.yaml").read_text(), (ROOT / "compose.yaml").read_text(), example):
        assert path in text_naming_it

    # The example is a valid environments file whose credentials the deployments provide (as NAME or NAME_FILE).
    provided = {e["name"].removesuffix("_FILE") for e in container["env"]}
    raw = tomllib.loads(example)
    named = {value for env in raw["environment"] for value in env["credentials"].values()}
    assert named <= provided, named - provided
    (setup,) = parse_config(raw, dict.fromkeys(named, "x"), where=path)
    assert setup.environment.project_id


def test_the_configmap_holds_every_setting_of_either_huawei_sign_in() -> None:
    config = manifest("ConfigMap", "ddm-restore-bot")["data"]
    secret = set(manifest("Secret")["stringData"])
    nothing = Settings(_env_file=None)  # type: ignore[call-arg]
    wanted = set(re.findall(r"\b(HUAWEICLOUD_[A-Z_]+)\b", " ".join(nothing.huawei_problems())))
    assert {"HUAWEICLOUD_IAM_USERNAME", "HUAWEICLOUD_IAM_DOMAIN", "HUAWEICLOUD_IAM_PASSWORD"} <= wanted
    missing = {name for name in wanted if name not in config and name not in secret}
    assert not missing, missing


# ---- Kubernetes ------------------------------------------------------------------------------------------------


def manifest(kind: str, name: str | None = None) -> dict[str, Any]:
    """The one manifest of `kind` (and `name`, where there are several)."""
    found = [doc for doc in manifests_list() if doc["kind"] == kind]
    if name is not None:
        found = [doc for doc in found if doc["metadata"]["name"] == name]
    (doc,) = found
    return doc


def manifests_list() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_yaml(path):
            assert isinstance(doc, dict) and doc.get("kind"), path
            found.append(doc)
    return found


def manifests() -> dict[str, dict[str, Any]]:
    """By kind; the ConfigMap is the settings' (the environments file's has its own test)."""
    docs = {doc["kind"]: doc for doc in manifests_list() if doc["kind"] != "ConfigMap"}
    docs["ConfigMap"] = manifest("ConfigMap", "ddm-restore-bot")
    return docs


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


# ---- what the README says of liveness --------------------------------------------------------------------------


def production_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Running in production", 1)[1].split("\n## ", 1)[0]


def test_the_readme_gives_the_default_step_bounds_and_the_liveness_probe() -> None:
    text = " ".join(production_section().split())
    bounds = Bounds.of(DEFAULTS)
    for loop, seconds in (
        ("announcer", bounds.announcer),
        ("follower", bounds.follower),
        ("sweeper", bounds.sweeper),
        ("watchdog", WATCHDOG_STEP_SECONDS),
    ):
        assert f"the {loop}'s {seconds:.0f} s" in text, (loop, seconds)
    probe = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    assert f"every {probe['periodSeconds']} s, {probe['failureThreshold']} failures" in text
