"""deploy/: the image, compose file, Kubernetes manifests, systemd units, Grafana dashboard and
.env.example, checked without Docker or a cluster: parsed, and held against the real CLI parser,
settings, metrics catalogue and health-check module they name.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import build_parser
from core import metrics
from core.feeds import check_text
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
ROLES = {"serve", "worker", "scheduler"}
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|make|build-essential|cc|clang|pip install|apt-get install|apk add)\b")


def setting_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names |= {str(choice) for choice in getattr(alias, "choices", [])} or {name.upper()}
    return names


def parse_cli(argv: list[str]) -> Any:
    """Parse a role's command line with the real `reewatch` parser (argparse exits 2 on a bad one)."""
    return build_parser().parse_args(argv)


# --- Dockerfile -------------------------------------------------------------------------------


def dockerfile_stages() -> list[dict[str, Any]]:
    """Instructions per stage: [{'from': ..., 'name': ..., 'ins': [(INSTRUCTION, args)]}]."""
    text = (DEPLOY / "Dockerfile").read_text()
    logical, buf = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    stages: list[dict[str, Any]] = []
    for line in logical:
        instruction, _, args = line.strip().partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            parts = args.split()
            stages.append({"from": parts[0], "name": parts[2] if len(parts) > 2 else None, "ins": []})
        elif stages:
            stages[-1]["ins"].append((instruction, args.strip()))
    return stages


def ins(stage: dict[str, Any], name: str) -> list[str]:
    return [args for instruction, args in stage["ins"] if instruction == name]


def test_image_is_multi_stage_and_the_final_stage_is_small_and_unprivileged() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    build, final = stages[0], stages[-1]
    assert "slim" in final["from"]
    assert any(f"--from={build['name']}" in args for args in ins(final, "COPY"))
    user = ins(final, "USER")[-1].split(":")[0]
    assert user not in ("root", "0")
    for args in ins(final, "RUN"):
        assert not BUILD_TOOLS.search(args), f"build tool in the final stage: {args}"
    # the install happens in the build stage
    assert any("pip install" in args for args in ins(build, "RUN"))


def test_image_runs_every_role_through_the_console_script() -> None:
    final = dockerfile_stages()[-1]
    entry = json.loads(ins(final, "ENTRYPOINT")[-1])
    cmd = json.loads(ins(final, "CMD")[-1])
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert entry == ["reewatch"] and 'reewatch = "bot.cli:main"' in pyproject
    args = parse_cli(cmd)
    assert args.command == "serve" and args.port == 3000
    exposed = {int(p) for line in ins(final, "EXPOSE") for p in line.split()}
    assert {3000, 9100} <= exposed
    env = " ".join(ins(final, "ENV"))
    assert "REEWATCH_FEEDS_FILE=/app/feeds.yaml" in env and "REEWATCH_LOG_FORMAT=json" in env


def test_image_copies_only_what_exists_and_is_not_ignored() -> None:
    ignore = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]

    def included(path: str) -> bool:
        keep = True
        for pattern in ignore:
            negate = pattern.startswith("!")
            pat = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pat) or path.startswith(pat + "/"):
                keep = negate
        return keep

    for stage in dockerfile_stages():
        for args in ins(stage, "COPY"):
            if "--from=" in args:
                continue
            sources = [a for a in shlex.split(args) if not a.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), source
                assert included(source), f"{source} is excluded by Dockerfile.dockerignore"
    assert not included(".venv") and not included(".env") and not included("tests")


# --- compose ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # resolves << merges
    return data


def command_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_compose_runs_every_role_on_one_redis(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"redis", "bot", "worker", "scheduler", "rq-dashboard"} <= set(services)
    roles = {name: parse_cli(command_of(services[name])).command for name in ("bot", "worker", "scheduler")}
    assert roles == {"bot": "serve", "worker": "worker", "scheduler": "scheduler"}
    assert parse_cli(command_of(services["bot"])).http
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["scheduler"]["deploy"]["replicas"] == 1
    for name in ("bot", "worker", "scheduler"):
        service = services[name]
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).resolve().exists()
        assert set(service["environment"]) <= setting_names() | {"PORT"}
        assert "/app/feeds.yaml" in " ".join(service["volumes"])


def test_compose_redis_persists_and_is_health_checked(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert "ping" in redis["healthcheck"]["test"]
    assert any(v.endswith(":/data") for v in redis["volumes"])


def test_compose_health_checks_match_what_each_role_serves(compose: dict[str, Any]) -> None:
    services = compose["services"]
    bot = services["bot"]
    port = parse_cli(command_of(bot)).port
    assert f"{port}:{port}" in bot["ports"]
    assert f"http://127.0.0.1:{port}/readyz" in " ".join(bot["healthcheck"]["test"])
    for role in ("worker", "scheduler"):
        test = services[role]["healthcheck"]["test"]
        assert test[1:] == ["python", "-m", "workers.healthcheck", role]
    assert services["worker"]["environment"]["REEWATCH_METRICS_PORT"] == "9100"
    dashboard = services["rq-dashboard"]
    assert dashboard["profiles"] == ["dashboard"]
    assert all(p.startswith("127.0.0.1:") for p in dashboard["ports"])


# --- Kubernetes -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    c: dict[str, Any] = containers[0]
    return c


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    files = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["images"][0]["name"] == "reewatch"


def test_bot_deployment_probes_and_autoscaler(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    bot = k8s[("Deployment", "reewatch-bot")]
    c = container(bot)
    assert parse_cli(c["args"]).command == "serve"
    port = parse_cli(c["args"]).port
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["http"] == port
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    hpa = k8s[("HorizontalPodAutoscaler", "reewatch-bot")]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "reewatch-bot"}
    assert hpa["spec"]["minReplicas"] >= 2
    service = k8s[("Service", "reewatch-bot")]
    assert service["spec"]["selector"] == bot["spec"]["selector"]["matchLabels"]
    ingress = k8s[("Ingress", "reewatch-bot")]
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == ["/slack/events"]


def test_workers_and_exactly_one_scheduler(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    worker = k8s[("Deployment", "reewatch-worker")]
    assert parse_cli(container(worker)["args"]).command == "worker"
    env = {e["name"]: e["value"] for e in container(worker).get("env", [])}
    assert {p["containerPort"] for p in container(worker)["ports"]} == {int(env["REEWATCH_METRICS_PORT"])}
    assert container(worker)["livenessProbe"]["exec"]["command"] == ["python", "-m", "workers.healthcheck", "worker"]
    scheduler = k8s[("Deployment", "reewatch-scheduler")]
    assert parse_cli(container(scheduler)["args"]).command == "scheduler"
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"]["type"] == "Recreate"  # a rollout never runs two
    assert container(scheduler)["livenessProbe"]["exec"]["command"][-1] == "scheduler"


def test_every_deployment_is_unprivileged_sized_and_configured(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    final_user = ins(dockerfile_stages()[-1], "USER")[-1].split(":")[0]
    deployments = [doc for (kind, _), doc in k8s.items() if kind == "Deployment"]
    assert len(deployments) == 3
    config = k8s[("ConfigMap", "reewatch-config")]["data"]
    feeds_mounts = set()
    for deployment in deployments:
        spec = deployment["spec"]
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert str(pod["securityContext"]["runAsUser"]) == final_user
        c = container(deployment)
        assert c["image"] == "reewatch"
        assert {"cpu", "memory"} <= set(c["resources"]["requests"])
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        refs = {(k, v["name"]) for ref in c["envFrom"] for k, v in ref.items()}
        assert refs == {("configMapRef", "reewatch-config"), ("secretRef", "reewatch-secrets")}
        volumes = {v["name"]: v for v in pod["volumes"]}
        for mount in c["volumeMounts"]:
            if "configMap" in volumes[mount["name"]]:
                assert volumes[mount["name"]]["configMap"]["name"] == "reewatch-feeds"
                feeds_mounts.add(mount["mountPath"])
    assert feeds_mounts == {str(Path(config["REEWATCH_FEEDS_FILE"]).parent)}
    assert set(config) <= setting_names()


def test_secret_holds_the_tokens_and_the_configmap_a_valid_feeds_file(
        k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    secret = k8s[("Secret", "reewatch-secrets")]["stringData"]
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "REDIS_URL"} <= set(secret)
    assert set(secret) <= setting_names()
    feeds = k8s[("ConfigMap", "reewatch-feeds")]["data"]["feeds.yaml"]
    parsed, problems = check_text(feeds, "feeds.yaml")
    assert problems == []
    assert parsed is not None and len(parsed.feeds) == 2


# --- systemd ----------------------------------------------------------------------------------


def unit(name: str) -> dict[str, list[tuple[str, str]]]:
    """A unit file as {section: [(key, value), ...]}; keys may repeat (Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in (DEPLOY / "systemd" / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        key, sep, value = line.partition("=")
        assert current and sep, f"{name}: unparsable line {raw!r}"
        sections[current].append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


@pytest.mark.parametrize(("name", "role"), [("reewatch-bot.service", "serve"),
                                            ("reewatch-worker@.service", "worker"),
                                            ("reewatch-scheduler.service", "scheduler")])
def test_systemd_units_run_each_role_unprivileged(name: str, role: str) -> None:
    service = unit(name)["Service"]
    argv = shlex.split(values(service, "ExecStart")[0])
    assert argv[0].endswith("/bin/reewatch")
    assert parse_cli(argv[1:]).command == role
    assert values(service, "User") == ["reewatch"]
    assert values(service, "EnvironmentFile") == ["/etc/reewatch/reewatch.env"]
    assert values(service, "NoNewPrivileges") == ["yes"]
    assert values(service, "Restart") == ["on-failure"]
    env = dict(v.split("=", 1) for v in values(service, "Environment"))
    assert set(env) <= setting_names()
    assert unit(name)["Install"] == [("WantedBy", "reewatch.target")]


def test_systemd_worker_template_keeps_the_job_in_hand_on_stop() -> None:
    service = unit("reewatch-worker@.service")["Service"]
    assert values(service, "KillMode") == ["mixed"]  # SIGTERM to the worker, not to its work horse
    env = dict(v.split("=", 1) for v in values(service, "Environment"))
    assert "%i" in env["REEWATCH_METRICS_PORT"]  # one port per instance on one host


def test_systemd_target_wants_units_that_exist() -> None:
    wanted = values(unit("reewatch.target")["Unit"], "Wants")[0].split()
    for name in wanted:
        template = re.sub(r"@[^.]+\.", "@.", name)
        assert (DEPLOY / "systemd" / template).exists(), name
    assert sum(1 for n in wanted if n.startswith("reewatch-scheduler")) == 1


# --- Grafana and .env.example ---------------------------------------------------------------------


def test_dashboard_charts_every_metric_and_only_real_ones() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "reewatch.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {re.sub(r"_(bucket|sum|count)$", "", m) for e in exprs for m in re.findall(r"reewatch_\w+", e)}
    assert used <= set(metrics.CATALOGUE)
    assert set(metrics.CATALOGUE) <= used
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:  # no panel hides another, none leaves the 24-column grid
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, panel["title"]
        cells |= area
    # every endpoint reports the whole deployment: summing across instances would multiply it
    assert not any(re.search(r"\bsum\s*\(\s*(rate|increase)\(", e) for e in exprs)


ENV_EXAMPLE = ROOT / ".env.example"


def test_env_example_loads_and_names_only_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in setting_names():  # the process environment (CI sets REDIS_URL) would win over the file
        monkeypatch.delenv(name, raising=False)
    loaded = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    assert loaded.redis_url == "redis://redis:6379/0"
    assert loaded.log_format == "json"
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    assert named - setting_names() <= {"RQ_DASHBOARD_USERNAME", "RQ_DASHBOARD_PASSWORD"}
    contract = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "REDIS_URL",
                "REEWATCH_FEEDS_FILE", "REEWATCH_REDIS_PREFIX", "REEWATCH_COMMAND", "REEWATCH_ADMINS",
                "REEWATCH_ALLOW_PRIVATE_NETWORKS", "REEWATCH_LOG_FORMAT", "REEWATCH_LOG_LEVEL",
                "REEWATCH_METRICS_PORT"}
    assert contract <= named
