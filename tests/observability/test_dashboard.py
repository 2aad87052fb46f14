"""Every PromQL query of the Grafana dashboards, evaluated in a real Prometheus that scrapes a real agent
and orchestrator: traffic goes through every deciding endpoint (allowed and denied chat completions, a
pre-check and its llm-call audit, decide, check-input, Proxy Mode), then each query, with the dashboard
variables set to "All", must return at least one series. Trace export points at a closed port so that
the dropped-spans counter is exposed. Prometheus is the `prometheus` on PATH or PROMETHEUS_BIN."""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from compat_harness import PROVIDER_KEY, start_stack

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "grafana" / "dashboards"

# What Grafana puts in place of its variables: "All" of a dashboard variable is its allValue (.*).
BUILTIN_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}
# How long the queries may take to return series once the traffic is sent (scraped every second).
SETTLE_SECONDS = 30


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_port(url):
    return urllib.parse.urlsplit(url).netloc


def call(method, url, body=None, headers=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"null")
        except ValueError:
            return error.code, raw.decode(errors="replace")


def dashboard_files():
    return sorted(DASHBOARDS.glob("*.json"))


def all_panels(panels):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def substitute(expr, variables):
    def replace(match):
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise AssertionError(f"unknown dashboard variable ${name} in {expr}")
        return variables[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", replace, expr)


def prometheus_queries():
    """(where, PromQL) of every Prometheus query of every dashboard: panel targets and query variables
    (label_values(metric, label) is asked as `group by (label) (metric)`)."""
    queries = []
    for path in dashboard_files():
        board = json.loads(path.read_text())
        variables = dict(BUILTIN_VARIABLES)
        templated = board.get("templating", {}).get("list", [])
        for variable in templated:
            variables[variable["name"]] = variable.get("allValue") or ".*"
        for variable in templated:
            if variable.get("type") != "query" or variable.get("datasource", {}).get("type") != "prometheus":
                continue
            query = variable["query"]
            text = query.get("query", "") if isinstance(query, dict) else query
            match = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*", text)
            assert match, f"{path.name} variable {variable['name']}: unsupported query {text!r}"
            queries.append(
                (f"{path.name} variable ${variable['name']}", f"group by ({match[2]}) ({substitute(match[1], variables)})")
            )
        for panel in all_panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                datasource = target.get("datasource") or panel.get("datasource") or {}
                if datasource.get("type") != "prometheus" or target.get("hide"):
                    continue
                where = f"{path.name} panel {panel.get('title')!r} query {target.get('refId')}"
                queries.append((where, substitute(target["expr"], variables)))
    return queries


class Prometheus:
    def __init__(self, binary, workdir, log_dir, targets):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": job, "metrics_path": "/metrics", "static_configs": [{"targets": [target]}]}
                for job, target in targets.items()
            ],
        }
        config_path = workdir / "prometheus.yml"
        config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        self.log_path = Path(log_dir) / f"prometheus-{self.port}.log"
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited; log:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prometheus was not ready within 30 s; log:\n{self.log_path.read_text()}")

    def query(self, expr):
        """(status, result): status "success" with the result vector, or the error Prometheus gave."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.loads(error.read() or b"{}")
        if body.get("status") != "success":
            return body.get("status", "error"), body.get("error", body)
        return "success", body["data"]["result"]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def stack(log_dir, upstream):
    # Trace export on, towards a port nothing listens on: the exporter fails, nothing else changes.
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "500",
    }
    agent, orchestrator = start_stack(log_dir, upstream, agent_env=otel, orchestrator_env=otel)
    yield agent, orchestrator
    agent.stop()
    orchestrator.stop()


@pytest.fixture(scope="module")
def prometheus(stack, log_dir, tmp_path_factory):
    binary = os.environ.get("PROMETHEUS_BIN") or shutil.which("prometheus")
    if not binary:
        pytest.fail("prometheus is required (Debian package prometheus, or PROMETHEUS_BIN); ./install/test.sh installs it")
    agent, orchestrator = stack
    server = Prometheus(
        binary,
        tmp_path_factory.mktemp("prometheus"),
        log_dir,
        {"axonflow-agent": host_port(agent.base_url), "axonflow-orchestrator": host_port(orchestrator.base_url)},
    )
    yield server
    server.stop()


def wait_for_series(prometheus, expr, timeout):
    deadline = time.monotonic() + timeout
    while True:
        status, result = prometheus.query(expr)
        if status == "success" and result:
            return result
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)


def drive_traffic(agent):
    """One allowed and one denied decision on every deciding endpoint."""
    base = agent.base_url
    chat = f"{base}/v1/chat/completions"
    key = {"X-Provider-Key": PROVIDER_KEY}

    def message(text):
        return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}

    expectations = []

    def expect(what, status, wanted):
        expectations.append((what, status, wanted))

    status, _ = call("POST", chat, message("What is 2+2?"), key)
    expect("allowed chat completion", status, 200)
    status, _ = call("POST", chat, message("My SSN is 123-45-6789, store it"), key)
    expect("denied chat completion", status, 400)

    pre_check = {"user_token": "user-1", "client_id": "dashboard-suite", "data_sources": [], "context": {}}
    status, approved = call("POST", f"{base}/api/policy/pre-check", dict(pre_check, query="Summarise our refund policy"))
    expect("approved pre-check", status, 200)
    status, _ = call("POST", f"{base}/api/policy/pre-check", dict(pre_check, query="Customer SSN is 123-45-6789"))
    expect("blocked pre-check", status, 200)
    status, _ = call(
        "POST",
        f"{base}/api/audit/llm-call",
        {
            "context_id": (approved or {}).get("context_id"),
            "client_id": "dashboard-suite",
            "response_summary": "Refunds within 30 days",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "token_usage": {"prompt_tokens": 200, "completion_tokens": 50, "total_tokens": 250},
            "latency_ms": 321,
            "metadata": {},
        },
    )
    expect("llm-call audit", status, 200)

    status, _ = call("POST", f"{base}/api/v1/decide", {"stage": "llm", "query": "Translate 'good morning' into French"})
    expect("allowing decide", status, 200)
    status, _ = call("POST", f"{base}/api/v1/decide", {"stage": "tool", "query": "DROP TABLE customers; card 4111 1111 1111 1111"})
    expect("denying decide", status, 200)

    check_input = f"{base}/api/v1/mcp/check-input"
    status, _ = call("POST", check_input, {"connector_type": "postgres", "statement": "SELECT name FROM customers WHERE id = 7", "operation": "query"})
    expect("allowed check-input", status, 200)
    status, _ = call("POST", check_input, {"connector_type": "postgres", "statement": "DROP TABLE customers", "operation": "execute"})
    expect("blocked check-input", status, None)

    proxy = {"user_token": "user-1", "client_id": "dashboard-suite", "request_type": "chat", "context": {}}
    status, _ = call("POST", f"{base}/api/request", dict(proxy, query="What is 2+2?"))
    expect("allowed Proxy Mode call", status, 200)
    status, _ = call("POST", f"{base}/api/request", dict(proxy, query="SSN 123-45-6789 please"))
    expect("blocked Proxy Mode call", status, 403)

    problems = [
        f"{what}: HTTP {status}" + (f" (expected {wanted})" if wanted else "")
        for what, status, wanted in expectations
        if (wanted is not None and status != wanted) or status >= 500
    ]
    assert not problems, "traffic was not answered as expected: " + "; ".join(problems)


def test_prometheus_scrapes_the_agent(prometheus):
    """The harness itself: Prometheus runs, scrapes the agent, and answers queries over a metric the
    agent has always exposed."""
    assert wait_for_series(prometheus, 'up{job="axonflow-agent"} == 1', 15), "the agent was never scraped"
    assert wait_for_series(prometheus, 'axonflow_audit_queue_depth{job="axonflow-agent"}', 10)


def test_every_dashboard_query_returns_series(stack, prometheus, upstream):
    agent, _ = stack
    queries = prometheus_queries()
    assert queries, "no Prometheus query in grafana/dashboards/"
    # Scraping has begun before the traffic: the queries then wait only for the scrapes that follow it.
    assert wait_for_series(prometheus, 'up{job="axonflow-agent"} == 1', 15), "the agent was never scraped"
    upstream.reset()
    drive_traffic(agent)
    # Once more a moment later, so that counters move between scrapes.
    time.sleep(1.2)
    drive_traffic(agent)

    pending = dict(enumerate(queries))
    errors = {}
    deadline = time.monotonic() + SETTLE_SECONDS
    while pending and time.monotonic() < deadline:
        for index, (where, expr) in list(pending.items()):
            status, result = prometheus.query(expr)
            if status != "success":
                errors[index] = f"{where}: Prometheus refused {expr}: {result}"
                del pending[index]
            elif result:
                del pending[index]
        if pending:
            time.sleep(1)
    failures = list(errors.values()) + [f"{where}: no series for {expr}" for where, expr in pending.values()]
    assert not failures, f"{len(failures)} of {len(queries)} dashboard queries failed:\n" + "\n".join(failures)
