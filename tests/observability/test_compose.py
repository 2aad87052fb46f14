"""The Docker Compose bundle, checked without a Docker engine: docker-compose 1.29 renders
compose/docker-compose.yml (with compose/.env.example unchanged) and the enterprise overlay (with and
without its required secrets), and the rendered services, the collector, Tempo and Prometheus
configurations, the Grafana provisioning, the dashboard and the Dockerfile are held to the contract
(CONTRACT.md, Observability: Compose bundle)."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "compose"
BASE = COMPOSE / "docker-compose.yml"
OVERLAY = COMPOSE / "docker-compose.enterprise.yml"
EXAMPLE_ENV = COMPOSE / ".env.example"
GRAFANA = REPO / "grafana"

SERVICES = {"postgres", "agent", "orchestrator", "otel-collector", "tempo", "prometheus", "grafana"}
# Distroless images: no shell to run a healthcheck in; install.sh checks them from the host.
NO_HEALTHCHECK = {"otel-collector", "tempo"}

# Secrets the enterprise overlay requires, with values good enough for the services' own checks.
ENTERPRISE_SECRETS = {
    "POSTGRES_PASSWORD": "5f0c1a9e2b7d4c3a8e6f1b0d",
    "AXONFLOW_INTERNAL_SERVICE_SECRET": "3b9f6c2e8a1d4f7b0c5e9a2d6f8b1c4e7a0d3f6b9c2e5a8d1f4b7c0e3a6d9f2b",
    "ADMIN_API_KEY": "admin-key-7c1e4a9d2f6b8e3a",
    "AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY": "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
    "GRAFANA_ADMIN_PASSWORD": "grafana-admin-9d2e",
}


def docker_compose():
    path = os.environ.get("DOCKER_COMPOSE_BIN") or shutil.which("docker-compose")
    if not path:
        pytest.fail("docker-compose (1.29, Debian package docker-compose) is required; ./install/test.sh installs it")
    return path


def compose_config(*files, env_file):
    """`docker-compose config` of the given files, in an environment free of the bundle's variables
    (the shell's variables would take precedence over the env file)."""
    command = [docker_compose(), "--env-file", str(env_file)]
    for file in files:
        command += ["-f", str(file)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    return subprocess.run(command + ["config"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def rendered(*files, env_file):
    result = compose_config(*files, env_file=env_file)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def base():
    return rendered(BASE, env_file=EXAMPLE_ENV)


@pytest.fixture(scope="module")
def enterprise_env(tmp_path_factory):
    path = tmp_path_factory.mktemp("compose-env") / "enterprise.env"
    lines = EXAMPLE_ENV.read_text().splitlines()
    values = dict(ENTERPRISE_SECRETS, DEPLOYMENT_MODE="enterprise")
    out = []
    for line in lines:
        name = line.split("=", 1)[0]
        out.append(f"{name}={values.pop(name)}" if name in values and not line.startswith("#") else line)
    out += [f"{name}={value}" for name, value in values.items()]
    path.write_text("\n".join(out) + "\n")
    return path


def volume_mounts(service):
    """(source, target) of every volume of a rendered service (short syntax)."""
    mounts = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            mounts.append((str(entry.get("source")), entry["target"]))
        else:
            source, target = entry.split(":")[:2]
            mounts.append((source, target))
    return mounts


def mount_target(service, source):
    for src, target in volume_mounts(service):
        if Path(src) == Path(source):
            return target
    raise AssertionError(f"{source} is not mounted in {service.get('image')}")


def published(service):
    """(host address, host port, container port) of every published port of a rendered service."""
    ports = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.append((entry.get("host_ip", ""), str(entry.get("published")), str(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) == 3:
            ports.append((parts[0], parts[1], parts[2]))
        elif len(parts) == 2:
            ports.append(("", parts[0], parts[1]))
        else:
            ports.append(("", "", parts[0]))
    return ports


def test_base_renders_with_the_example_env_and_has_every_service(base):
    assert set(base["services"]) == SERVICES


def test_every_image_is_pinned(base):
    for name, service in base["services"].items():
        image = service.get("image")
        assert image, f"{name} has no image name"
        assert re.fullmatch(r"[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9][A-Za-z0-9._-]*", image), f"{name}: {image} is not name:version"
        assert image.rsplit(":", 1)[1] != "latest", f"{name}: {image} is not pinned"


def test_healthchecks_where_the_image_has_a_shell(base):
    expected = {
        "postgres": "pg_isready",
        "agent": "http://localhost:8080/health",
        "orchestrator": "http://localhost:8081/health",
        "prometheus": "localhost:9090/-/ready",
        "grafana": "/api/health",
    }
    for name, service in base["services"].items():
        if name in NO_HEALTHCHECK:
            assert "healthcheck" not in service, f"{name} runs a distroless image: a healthcheck could never pass"
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        test = check["test"]
        command = " ".join(test) if isinstance(test, list) else test
        assert expected[name] in command, f"{name}: healthcheck {command!r} does not check {expected[name]}"


def test_every_service_has_memory_and_cpu_limits(base):
    for name, service in base["services"].items():
        assert service.get("mem_limit"), f"{name} has no mem_limit"
        assert service.get("cpus") and float(service["cpus"]) > 0, f"{name} has no cpus"


def test_postgres_and_tempo_keep_their_data_on_named_volumes(base):
    named = set(base.get("volumes") or {})
    postgres = dict((target, source) for source, target in volume_mounts(base["services"]["postgres"]))
    assert postgres.get("/var/lib/postgresql/data") in named
    tempo_volumes = [source for source, _ in volume_mounts(base["services"]["tempo"]) if source in named]
    assert tempo_volumes, "Tempo's storage is not on a named volume"


def test_agent_and_orchestrator_share_one_image_built_from_the_repository(base):
    agent, orchestrator = base["services"]["agent"], base["services"]["orchestrator"]
    assert agent["image"] == orchestrator["image"]
    for service in (agent, orchestrator):
        assert Path(service["build"]["context"]) == REPO
        assert service["build"].get("dockerfile", "Dockerfile") == "Dockerfile"
    assert agent["command"] == ["axonflow-agent"]
    assert orchestrator["command"] == ["axonflow-orchestrator"]


def test_service_environment(base):
    agent = base["services"]["agent"]["environment"]
    orchestrator = base["services"]["orchestrator"]["environment"]
    for env, name in ((agent, "axonflow-agent"), (orchestrator, "axonflow-orchestrator")):
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert env["OTEL_SERVICE_NAME"] == name
        assert env["DEPLOYMENT_MODE"] == "community"
        for secret in ("AXONFLOW_INTERNAL_SERVICE_SECRET", "AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY", "ADMIN_API_KEY"):
            assert secret in env
    assert agent["ORCHESTRATOR_URL"] == "http://orchestrator:8081"
    assert orchestrator["AGENT_URL"] == "http://agent:8080"
    assert "OPENAI_API_KEY" in orchestrator


def test_only_the_agent_and_grafana_are_published_beyond_loopback(base):
    services = base["services"]
    assert [(p, t) for _, p, t in published(services["agent"])] == [("8080", "8080")]
    assert [(p, t) for _, p, t in published(services["grafana"])] == [("3001", "3000")]
    for name in ("postgres", "orchestrator"):
        assert published(services[name]) == [], f"{name} is published to the host"
    loopback_only = {"otel-collector": "13133", "tempo": "3200", "prometheus": "9090"}
    for name, port in loopback_only.items():
        ports = published(services[name])
        assert [(p, t) for _, p, t in ports] == [(port, port)], f"{name}: {ports}"
        assert all(host == "127.0.0.1" for host, _, _ in ports), f"{name} is published beyond loopback"


def test_enterprise_overlay_without_its_secrets_refuses_to_render():
    result = compose_config(BASE, OVERLAY, env_file=EXAMPLE_ENV)
    assert result.returncode != 0
    assert "set " in result.stderr and "compose/.env" in result.stderr, result.stderr


def test_enterprise_overlay_renders_with_its_secrets(enterprise_env):
    merged = rendered(BASE, OVERLAY, env_file=enterprise_env)
    assert set(merged["services"]) == SERVICES
    agent = merged["services"]["agent"]["environment"]
    orchestrator = merged["services"]["orchestrator"]["environment"]
    secret = ENTERPRISE_SECRETS["AXONFLOW_INTERNAL_SERVICE_SECRET"]
    for env in (agent, orchestrator):
        assert env["DEPLOYMENT_MODE"] == "enterprise"
        assert env["AXONFLOW_INTERNAL_SERVICE_SECRET"] == secret
        assert env["ADMIN_API_KEY"] == ENTERPRISE_SECRETS["ADMIN_API_KEY"]
        assert env["AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY"] == ENTERPRISE_SECRETS["AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY"]
        assert f":{ENTERPRISE_SECRETS['POSTGRES_PASSWORD']}@postgres:5432/" in env["DATABASE_URL"]
        # The overlay replaces values, never the rest of the environment.
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert agent["ORCHESTRATOR_URL"] == "http://orchestrator:8081"
    assert merged["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == ENTERPRISE_SECRETS["POSTGRES_PASSWORD"]


def test_every_required_secret_is_listed_empty_in_the_example_env():
    required = set(re.findall(r"\$\{(\w+):\?", OVERLAY.read_text()))
    assert {"AXONFLOW_INTERNAL_SERVICE_SECRET", "ADMIN_API_KEY", "AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY"} <= required
    listed = dict(
        line.split("=", 1) for line in EXAMPLE_ENV.read_text().splitlines() if line and not line.startswith("#")
    )
    for name in required:
        assert name in listed, f"{name} is not listed in compose/.env.example"
        assert listed[name] == "", f"{name} has a value in compose/.env.example"
    assert set(ENTERPRISE_SECRETS) == required


def test_collector_receives_otlp_on_every_interface_and_exports_to_tempo(base):
    collector = base["services"]["otel-collector"]
    flags = [arg for arg in collector["command"] if arg.startswith("--config=")]
    assert len(flags) == 1
    assert mount_target(collector, COMPOSE / "otel-collector.yaml") == flags[0].split("=", 1)[1]
    config = yaml.safe_load((COMPOSE / "otel-collector.yaml").read_text())
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    exporter = config["exporters"]["otlp/tempo"]
    assert exporter["endpoint"] == "tempo:4317"
    assert exporter["tls"]["insecure"] is True
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert traces["exporters"] == ["otlp/tempo"]
    assert config["extensions"]["health_check"]["endpoint"] == "0.0.0.0:13133"
    assert "health_check" in config["service"]["extensions"]


def test_tempo_keeps_traces_on_its_volume_and_listens_on_3200(base):
    tempo = base["services"]["tempo"]
    flags = [arg for arg in tempo["command"] if arg.startswith("-config.file=")]
    assert len(flags) == 1
    assert mount_target(tempo, COMPOSE / "tempo.yaml") == flags[0].split("=", 1)[1]
    config = yaml.safe_load((COMPOSE / "tempo.yaml").read_text())
    assert config["server"]["http_listen_port"] == 3200
    protocols = config["distributor"]["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].startswith("0.0.0.0:")
    assert protocols["http"]["endpoint"].startswith("0.0.0.0:")
    trace = config["storage"]["trace"]
    assert trace["backend"] == "local"
    named = set(base["volumes"])
    volume_targets = [target for source, target in volume_mounts(tempo) if source in named]
    for path in (trace["local"]["path"], trace["wal"]["path"]):
        assert any(path == t or path.startswith(t.rstrip("/") + "/") for t in volume_targets), f"{path} is not on a named volume"


def test_prometheus_scrapes_the_agent_and_the_orchestrator(base):
    prometheus = base["services"]["prometheus"]
    mounted = mount_target(prometheus, COMPOSE / "prometheus.yml")
    assert f"--config.file={mounted}" in prometheus["command"]
    config = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
    targets = {}
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                targets[target] = job.get("metrics_path", "/metrics")
    assert targets.get("agent:8080") == "/metrics"
    assert targets.get("orchestrator:8081") == "/metrics"
    promtool = shutil.which("promtool")
    if promtool:
        check = subprocess.run([promtool, "check", "config", str(COMPOSE / "prometheus.yml")], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def provisioned_datasources():
    uids = {}
    for path in sorted((GRAFANA / "provisioning" / "datasources").glob("*.y*ml")):
        for source in yaml.safe_load(path.read_text()).get("datasources", []):
            uids[source["uid"]] = source
    return uids


def dashboards():
    return {path.name: json.loads(path.read_text()) for path in sorted((GRAFANA / "dashboards").glob("*.json"))}


def all_panels(panels):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def test_grafana_is_provisioned_from_the_repository(base):
    grafana = base["services"]["grafana"]
    assert mount_target(grafana, GRAFANA / "provisioning") == "/etc/grafana/provisioning"
    dashboards_target = mount_target(grafana, GRAFANA / "dashboards")
    providers = []
    for path in sorted((GRAFANA / "provisioning" / "dashboards").glob("*.y*ml")):
        providers += yaml.safe_load(path.read_text()).get("providers", [])
    assert [p["options"]["path"] for p in providers if p.get("type", "file") == "file"] == [dashboards_target]
    sources = provisioned_datasources()
    assert sources["prometheus"]["type"] == "prometheus" and sources["prometheus"]["url"] == "http://prometheus:9090"
    assert sources["tempo"]["type"] == "tempo" and sources["tempo"]["url"] == "http://tempo:3200"


def test_dashboards_refer_only_to_provisioned_datasources():
    sources = provisioned_datasources()
    boards = dashboards()
    assert boards, "grafana/dashboards/ holds no dashboard"
    uids = [board["uid"] for board in boards.values()]
    assert len(uids) == len(set(uids))

    def check(where, datasource):
        assert isinstance(datasource, dict), f"{where}: datasource {datasource!r} is not {{type, uid}}"
        assert datasource.get("uid") in sources, f"{where}: datasource uid {datasource.get('uid')!r} is not provisioned"
        assert datasource.get("type") == sources[datasource["uid"]]["type"], f"{where}: wrong datasource type"

    for name, board in boards.items():
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                check(f"{name} variable {variable['name']}", variable.get("datasource"))
        for panel in all_panels(board.get("panels", [])):
            if panel.get("type") == "row":
                continue
            where = f"{name} panel {panel.get('title')!r}"
            check(where, panel.get("datasource"))
            assert panel.get("targets"), f"{where} has no query"
            for target in panel["targets"]:
                check(f"{where} target {target.get('refId')}", target.get("datasource", panel["datasource"]))


def test_decisions_dashboard():
    board = dashboards()["decision-mode-traces.json"]
    assert board["uid"] == "decision-mode-traces"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    tenant = variables["tenant"]
    assert "label_values(axonflow_decisions_total, tenant)" in json.dumps(tenant["query"])
    assert tenant["includeAll"] and tenant["multi"] and tenant["allValue"] == ".*"
    assert "endpoint" in variables
    exprs = [t.get("expr", "") for p in all_panels(board["panels"]) for t in p.get("targets", [])]
    text = "\n".join(exprs)
    for metric in (
        "axonflow_decisions_total",
        "axonflow_policy_matches_total",
        "axonflow_request_duration_seconds_bucket",
        "axonflow_gateway_overhead_seconds_bucket",
        "axonflow_policy_eval_duration_seconds_bucket",
        "axonflow_llm_tokens_total",
        "axonflow_llm_cost_usd_total",
        "axonflow_otel_spans_dropped_total",
        "axonflow_log_lines_dropped_total",
        "axonflow_requests_shed_total",
    ):
        assert metric in text, f"no panel shows {metric}"
    for expr in exprs:
        if "axonflow_decisions_total" in expr or "axonflow_llm_" in expr:
            assert 'tenant=~"$tenant"' in expr, f"{expr} ignores the tenant variable"
    traceql = [
        t["query"]
        for p in all_panels(board["panels"])
        for t in p.get("targets", [])
        if t.get("datasource", {}).get("uid") == "tempo"
    ]
    assert traceql and all("span.axonflow." in q for q in traceql)


def test_dockerfile_builds_pinned_and_runs_unprivileged():
    text = (REPO / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M | re.I)
    assert len(froms) >= 2
    for image, _ in froms:
        assert re.fullmatch(r"[a-z0-9._/-]+:[A-Za-z0-9._-]+", image) and not image.endswith(":latest"), image
    builder = re.fullmatch(r"rust:(\d+)\.(\d+)(?:\.(\d+))?-bookworm", froms[0][0])
    assert builder, f"the builder is {froms[0][0]}"
    workspace = re.search(r'rust-version\s*=\s*"(\d+)\.(\d+)', (REPO / "Cargo.toml").read_text())
    assert (int(builder[1]), int(builder[2])) >= (int(workspace[1]), int(workspace[2]))
    assert "cargo build --release --locked --bins" in text
    final = text[text.rindex("FROM") :]
    assert re.search(r"apt-get install[^\n]*\bcurl\b", final)
    for binary in ("axonflow-agent", "axonflow-orchestrator"):
        assert f"target/release/{binary}" in final
    users = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^EXPOSE\s+8080\s+8081", final, re.M)
