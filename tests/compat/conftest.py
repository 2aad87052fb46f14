"""Harness for the compatibility suite: a fresh Postgres database, a recording mock OpenAI upstream,
and the real agent binary started against both. Driven by the official `openai` Python SDK."""

import json
import os
import re
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

PROVIDER_KEY = "sk-compat-PROVIDERKEY-1b7e4d9a0c3f"

COMPLETION = {
    "id": "chatcmpl-compat",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "4", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 14, "completion_tokens": 7, "total_tokens": 21},
}


def _required_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set; run the suite through ./install/test.sh", returncode=2)
    return value


def _invalid_chat_request(authorization, body):
    """What OpenAI's API reference requires of POST /v1/chat/completions: a bearer key and a JSON
    object with a non-empty model and a non-empty list of messages, each with a role. Returns the
    (status, body) OpenAI answers to a request that breaks it, else None."""

    def error(status, message, code):
        reply = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
        return status, json.dumps(reply).encode()

    if not authorization.startswith("Bearer ") or not authorization[7:].strip():
        return error(401, "You didn't provide an API key.", "invalid_api_key")
    try:
        request = json.loads(body)
    except ValueError:
        return error(400, "We could not parse the JSON body of your request.", "invalid_json")
    messages = request.get("messages") if isinstance(request, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("model"), str) or not request["model"]:
        return error(400, "you must provide a model parameter", "invalid_request")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) and "role" in m for m in messages):
        return error(400, "messages must be a non-empty list of messages with a role", "invalid_request")
    return None


class MockUpstream:
    """A mock OpenAI provider on a loopback port that records every request."""

    def __init__(self):
        self.requests = []
        self.status = 200
        self.body = json.dumps(COMPLETION).encode()
        self.lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with upstream.lock:
                    upstream.requests.append(
                        {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                    )
                    status, reply = upstream.status, upstream.body
                problem = _invalid_chat_request(self.headers.get("authorization", ""), body)
                if problem is not None:
                    status, reply = problem
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reset(self, status=200, body=None):
        with self.lock:
            self.requests.clear()
            self.status = status
            self.body = json.dumps(COMPLETION if body is None else body).encode()

    def close(self):
        self.server.shutdown()


class Agent:
    """A real service binary (the agent unless told otherwise), its log captured to a file."""

    def __init__(self, database_url, log_dir, env, binary_env="AXONFLOW_AGENT_BIN", name="agent"):
        self.log_path = Path(log_dir) / f"{name}-{uuid.uuid4().hex[:8]}.log"
        self.database_url = database_url
        full_env = {
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": database_url,
            "PORT": "0",
            "AXONFLOW_BIND_ADDRESS": "127.0.0.1",
            "RUST_LOG": "debug,sqlx=warn,hyper=info,reqwest=info",
            "AUDIT_FALLBACK_PATH": str(self.log_path.with_suffix(".fallback.jsonl")),
        }
        full_env.update(env)
        self.process = subprocess.Popen(
            [_required_env(binary_env)],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.base_url = None
        ready = threading.Event()

        def pump():
            with open(self.log_path, "w", encoding="utf-8") as log:
                for line in self.process.stdout:
                    log.write(line)
                    log.flush()
                    match = re.search(r"listening on (http://\S+)", line)
                    if match:
                        self.base_url = match.group(1)
                        ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30) or self.base_url is None:
            self.process.kill()
            raise RuntimeError(f"{name} did not start; log:\n{self.log_path.read_text()}")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def fresh_database():
    admin = _required_env("DATABASE_URL")
    name = f"axonflow_compat_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    base, _, query = admin.partition("?")
    url = base.rsplit("/", 1)[0] + "/" + name
    return url + ("?" + query if query else "")


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory):
    configured = os.environ.get("AXONFLOW_TEST_LOG_DIR")
    path = Path(configured) if configured else tmp_path_factory.mktemp("agent-logs")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def upstream():
    mock = MockUpstream()
    yield mock
    mock.close()


@pytest.fixture(scope="session")
def database_url():
    return fresh_database()


@pytest.fixture(scope="session")
def agent(database_url, upstream, log_dir):
    process = Agent(database_url, log_dir, {"OPENAI_BASE_URL": upstream.base_url})
    yield process
    process.stop()


@pytest.fixture()
def mock(upstream):
    upstream.reset()
    return upstream


@pytest.fixture()
def db(database_url):
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def start_agent(log_dir, env):
    """An extra agent with its own database, for tests that need other settings."""
    return Agent(fresh_database(), log_dir, env)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def start_stack(log_dir, upstream, agent_env=None, orchestrator_env=None):
    """An orchestrator and an agent sharing a fresh database and an internal secret, the
    orchestrator calling the mock provider with a server-side key. Returns (agent, orchestrator)
    once the agent's /health says Proxy Mode is available."""
    database_url = fresh_database()
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    orchestrator = Agent(
        database_url,
        log_dir,
        {
            "AXONFLOW_INTERNAL_SERVICE_SECRET": secret,
            "OPENAI_BASE_URL": upstream.base_url,
            "OPENAI_API_KEY": "sk-server-side-compat-key",
            **(orchestrator_env or {}),
        },
        binary_env="AXONFLOW_ORCHESTRATOR_BIN",
        name="orchestrator",
    )
    agent = Agent(
        database_url,
        log_dir,
        {
            "AXONFLOW_INTERNAL_SERVICE_SECRET": secret,
            "ORCHESTRATOR_URL": orchestrator.base_url,
            "OPENAI_BASE_URL": upstream.base_url,
            **(agent_env or {}),
        },
    )

    def proxy_ready():
        import urllib.request

        with urllib.request.urlopen(f"{agent.base_url}/health", timeout=2) as response:
            return json.load(response)["proxy_mode"]["available"]

    if not wait_for(proxy_ready, timeout=15):
        agent.stop()
        orchestrator.stop()
        raise RuntimeError(f"Proxy Mode never became available; agent log:\n{agent.log_path.read_text()}")
    agent.database_url = database_url
    return agent, orchestrator
