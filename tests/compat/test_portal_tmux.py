"""The terminal portal end to end: the real `axonflow-portal` binary in a detached tmux session, driven
with `tmux send-keys` and read with `tmux capture-pane`, against a real agent in enterprise mode and
Postgres. Creates a client in the form, uses its one-time secret against the agent, sees the call in
the live audit tail, rotates the secret (the old one is refused at once), disables a system policy for
the tenant as an override and finds it in the admin log, and quits with `q` (exit 0)."""

import base64
import json
import os
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import PROVIDER_KEY, start_agent

ADMIN_KEY = "portal-admin-key-0123456789abcdef"
SERVICE_SECRET = "portal-internal-secret-0123456789abcdef"
POLICY_ID = "sys_pii_email"
WIDTH, HEIGHT = 120, 40


def _portal_binary():
    path = os.environ.get("AXONFLOW_PORTAL_BIN")
    if not path:
        pytest.exit("AXONFLOW_PORTAL_BIN is not set; run the suite through ./install/test.sh", returncode=2)
    return path


class Tmux:
    """One detached tmux session on a private server socket, so nothing else's tmux is touched."""

    def __init__(self, socket):
        self.socket = socket
        self.session = "portal"
        self.captures = []
        self.socket_path = None

    def run(self, *args, check=True):
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10, check=check
        )

    def start(self, command, env):
        extra = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
        size = ["-x", str(WIDTH), "-y", str(HEIGHT)]
        self.run("-f", "/dev/null", "new-session", "-d", "-s", self.session, *size, *extra, command)
        self.socket_path = self.run("display-message", "-p", "#{socket_path}").stdout.strip()

    def screen(self):
        text = self.run("capture-pane", "-p", "-t", self.session).stdout
        self.captures.append(text)
        return text

    def keys(self, *keys):
        self.run("send-keys", "-t", self.session, *keys)

    def type(self, text):
        self.run("send-keys", "-t", self.session, "-l", text)

    def wait_for(self, predicate, what, timeout=10.0):
        """Polls the pane until `predicate(screen)` holds (a string: is on the screen); returns it."""
        check = (lambda screen: predicate in screen) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{screen}")
            time.sleep(0.1)

    def alive(self):
        return self.run("has-session", "-t", self.session, check=False).returncode == 0

    def kill(self):
        self.run("kill-server", check=False)
        if self.socket_path:
            Path(self.socket_path).unlink(missing_ok=True)


def call(agent, path, body, authorization):
    """A client call; returns (status, JSON body)."""
    request = urllib.request.Request(
        f"{agent.base_url}{path}",
        method="POST",
        data=json.dumps(body).encode(),
        headers={"Authorization": authorization, "Content-Type": "application/json", "X-Provider-Key": PROVIDER_KEY},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def chat(agent, client_id, secret):
    """A chat completion through the mock upstream, as the OpenAI SDK sends it in enterprise mode."""
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is 2+2?"}]}
    return call(agent, "/v1/chat/completions", body, f"Bearer {client_id}:{secret}")


def decide(agent, client_id, secret):
    """A Decision Mode call with Basic credentials, as the AxonFlow SDKs send them."""
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return call(agent, "/api/v1/decide", {"stage": "llm", "query": "What is 2+2?"}, f"Basic {token}")


def admin_get(agent, path):
    request = urllib.request.Request(f"{agent.base_url}{path}", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def secret_in_dialog(screen, client_id):
    """The secret of the one-time dialog: the line two below `Secret of client <id>:`, from the same
    column (the dialog's text is left-aligned inside its border)."""
    lines = screen.splitlines()
    for line_idx, line in enumerate(lines):
        column = line.find(f"Secret of client {client_id}:")
        if column >= 0 and line_idx + 2 < len(lines):
            secret = lines[line_idx + 2][column:].split("│")[0].strip()
            assert secret and " " not in secret, f"no one-line secret in the dialog:\n{screen}"
            return secret
    raise AssertionError(f"no secret dialog for {client_id} on the screen:\n{screen}")


def table_row(screen, *words):
    """Whether one line of the screen holds every word."""
    return any(all(word in line for word in words) for line in screen.splitlines())


@pytest.fixture()
def enterprise_agent(upstream, log_dir):
    process = start_agent(
        log_dir,
        {
            "OPENAI_BASE_URL": upstream.base_url,
            "DEPLOYMENT_MODE": "enterprise",
            "ADMIN_API_KEY": ADMIN_KEY,
            "AXONFLOW_INTERNAL_SERVICE_SECRET": SERVICE_SECRET,
        },
    )
    yield process
    process.stop()


@pytest.fixture()
def tmux():
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not on PATH (./install/test.sh installs it)")
    session = Tmux(f"axonflow-portal-{uuid.uuid4().hex[:12]}")
    try:
        yield session
    finally:
        session.kill()


def test_portal_drives_the_agent_end_to_end(enterprise_agent, mock, tmux, log_dir):
    agent = enterprise_agent
    suffix = uuid.uuid4().hex[:6]
    client_id, tenant_id = f"tui-app-{suffix}", f"tui-tenant-{suffix}"
    run_dir = Path(log_dir) / f"portal-{suffix}"
    run_dir.mkdir()
    stderr_path, status_path = run_dir / "portal.stderr", run_dir / "portal.status"
    portal = _portal_binary()
    command = (
        f"{shlex.quote(portal)} --url {shlex.quote(agent.base_url)} 2>{shlex.quote(str(stderr_path))};"
        f" echo $? >{shlex.quote(str(status_path))}"
    )
    tmux.start(command, {"ADMIN_API_KEY": ADMIN_KEY, "XDG_CONFIG_HOME": str(run_dir), "TERM": "xterm-256color"})
    size = tmux.run("display-message", "-p", "-t", tmux.session, "#{pane_width}x#{pane_height}").stdout.strip()
    assert size == f"{WIDTH}x{HEIGHT}"
    tmux.wait_for(lambda s: "AxonFlow" in s and "1 Overview" in s and "●" in s, "the portal's first frame")

    # (1) A client from the new-client form; its secret is read off the one-time dialog.
    tmux.keys("2")
    tmux.wait_for("no clients (n creates one)", "the empty clients list")
    tmux.keys("n")
    tmux.wait_for("New client", "the new-client form")
    for value in (client_id, "Portal e2e", tenant_id, "acme", "600", "100000"):
        tmux.type(value)
        tmux.keys("Tab")
    tmux.wait_for(lambda s: table_row(s, "rate_limit_tpm", "100000"), "the filled form")
    tmux.keys("Enter")
    screen = tmux.wait_for("will not be shown again", "the one-time secret dialog")
    first_secret = secret_in_dialog(screen, client_id)
    tmux.keys("Enter")
    screen = tmux.wait_for(
        lambda s: "Client secret" not in s and table_row(s, client_id, tenant_id, "acme", "600", "100000"),
        "the new client in the list",
    )
    assert first_secret not in screen

    # (2) The agent takes the credentials.
    status, body = chat(agent, client_id, first_secret)
    assert status == 200, body
    assert body["choices"][0]["message"]["content"] == "4"
    assert len(mock.requests) == 1

    # (3) The call shows in the audit tail without a key press, and so does one made while it is open.
    tmux.keys("4")
    tmux.wait_for(lambda s: "Audit tail (1)" in s and table_row(s, client_id, tenant_id, "allow"), "the audit row")
    status, body = decide(agent, client_id, first_secret)
    assert status == 200, body
    tmux.wait_for(lambda s: "Audit tail (2)" in s, "the second audit row, without a key press")

    # (4) Rotation: the old secret is refused at once, the new one works.
    tmux.keys("2")
    tmux.wait_for(lambda s: table_row(s, client_id, tenant_id), "the clients list")
    tmux.keys("/")
    tmux.type(client_id)
    tmux.keys("Enter")
    tmux.wait_for(f"/{client_id}", "the filtered clients list")
    tmux.keys("r")
    tmux.wait_for(lambda s: f"Rotate the secret of client {client_id}?" in s and "y/n" in s, "the confirmation")
    tmux.keys("y")
    screen = tmux.wait_for(
        lambda s: "will not be shown again" in s and first_secret not in s, "the rotated secret dialog"
    )
    second_secret = secret_in_dialog(screen, client_id)
    assert second_secret != first_secret
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "Client secret" not in s and f"secret of {client_id} rotated" in s, "the dialog closed")
    status, body = chat(agent, client_id, first_secret)
    assert status == 401, body
    status, body = decide(agent, client_id, first_secret)
    assert status == 401, body
    status, body = chat(agent, client_id, second_secret)
    assert status == 200, body

    # (5) A system policy disabled for the tenant as an override, with a reason; the admin log has it.
    tmux.keys("3")
    tmux.wait_for(lambda s: table_row(s, tenant_id), "the tenant list")
    tmux.keys("/")
    tmux.type(tenant_id)
    tmux.keys("Enter", "Enter")
    tmux.wait_for(lambda s: f"Policies of {tenant_id} (" in s and "sys_" in s, "the tenant's policies")
    tmux.keys("/")
    tmux.type(POLICY_ID)
    tmux.keys("Enter")
    tmux.wait_for(lambda s: f"/{POLICY_ID}" in s and table_row(s, POLICY_ID, "on"), "the filtered policy")
    tmux.keys("e")
    tmux.wait_for(
        lambda s: f"Disable {POLICY_ID} for tenant {tenant_id}" in s and "reason:" in s, "the override dialog"
    )
    reason = f"portal e2e {suffix}"
    tmux.type(reason)
    tmux.keys("Enter")
    tmux.wait_for(
        lambda s: f"{POLICY_ID} disabled for {tenant_id}" in s and table_row(s, POLICY_ID, "off*"),
        "the policy off for the tenant",
    )
    policies = admin_get(agent, f"/api/v1/admin/tenants/{tenant_id}/policies")["policies"]
    policy = next(p for p in policies if p.get("policy_id") == POLICY_ID)
    assert policy["enabled"] is False and policy["override"]["override_reason"] == reason, policy
    tmux.keys("5")
    tmux.wait_for(lambda s: table_row(s, "policy.override_set", POLICY_ID), "the override in the admin log")
    screen = tmux.screen()
    for action in ("client.create", "client.rotate_secret"):
        assert table_row(screen, action, client_id), f"{action} is not in the admin log:\n{screen}"

    # (6) `q` quits: the pane closes and the portal exited 0.
    tmux.keys("q")
    deadline = time.monotonic() + 10
    while tmux.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not tmux.alive(), "the pane did not close after q"
    assert status_path.read_text().strip() == "0"

    # A secret is shown in its dialog and nowhere else: not on any other screen, not in the portal's
    # stderr, not in the agent's log (whose ordinary lines reach it within 20 ms).
    time.sleep(0.1)
    for secret in (first_secret, second_secret):
        for capture in tmux.captures:
            if secret in capture:
                assert "will not be shown again" in capture and capture.count(secret) == 1, capture
        assert secret not in stderr_path.read_text()
        assert secret not in agent.log_path.read_text()
    assert sum(first_secret in capture for capture in tmux.captures) >= 1
