"""Enterprise mode with the official clients: the `openai` SDK with `api_key="client_id:secret"` and
the `axonflow` SDK with client_id/client_secret authenticate against the running agent; wrong
secrets raise each SDK's authentication error."""

import json
import os
import urllib.request
import uuid

os.environ["AXONFLOW_TELEMETRY"] = "off"
os.environ.pop("AXONFLOW_TRY", None)

import openai  # noqa: E402
import psycopg  # noqa: E402
import pytest  # noqa: E402
from axonflow import AxonFlow  # noqa: E402
from axonflow.exceptions import AuthenticationError  # noqa: E402
from axonflow.types import AuditSearchRequest, RetryConfig  # noqa: E402
from openai import OpenAI  # noqa: E402

from conftest import PROVIDER_KEY, fresh_database, Agent  # noqa: E402

ADMIN_KEY = "compat-admin-key-0123456789abcdef"
SERVICE_SECRET = "compat-internal-secret-0123456789abcdef"


def admin(agent, method, path, body=None):
    request = urllib.request.Request(
        f"{agent.base_url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def enterprise(upstream, log_dir):
    database_url = fresh_database()
    process = Agent(
        database_url,
        log_dir,
        {
            "OPENAI_BASE_URL": upstream.base_url,
            "DEPLOYMENT_MODE": "enterprise",
            "ADMIN_API_KEY": ADMIN_KEY,
            "AXONFLOW_INTERNAL_SERVICE_SECRET": SERVICE_SECRET,
        },
    )
    process.database_url = database_url
    yield process
    process.stop()


@pytest.fixture(scope="module")
def credentials(enterprise):
    client_id = f"ent-{uuid.uuid4().hex[:8]}"
    created = admin(
        enterprise, "POST", "/api/v1/admin/clients", {"client_id": client_id, "name": "compat", "tenant_id": "acme-eu"}
    )
    assert created["client_id"] == client_id
    return client_id, created["client_secret"]


def test_openai_sdk_authenticates_with_client_id_and_secret(enterprise, credentials, mock):
    client_id, secret = credentials
    client = OpenAI(
        api_key=f"{client_id}:{secret}",
        base_url=f"{enterprise.base_url}/v1",
        default_headers={"X-Provider-Key": PROVIDER_KEY},
        max_retries=0,
    )
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "What is 2+2?"}]
    )
    assert raw.parse().choices[0].message.content == "4"
    with psycopg.connect(enterprise.database_url) as db:
        row = db.execute(
            "SELECT client_id, tenant_id FROM llm_call_audits WHERE id = %s",
            (uuid.UUID(raw.headers["x-axonflow-decision-id"]),),
        ).fetchone()
    assert row == (client_id, "acme-eu")

    wrong = OpenAI(
        api_key=f"{client_id}:not-the-secret",
        base_url=f"{enterprise.base_url}/v1",
        default_headers={"X-Provider-Key": PROVIDER_KEY},
        max_retries=0,
    )
    with pytest.raises(openai.AuthenticationError) as raised:
        wrong.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 401
    anonymous = OpenAI(api_key="any-value", base_url=f"{enterprise.base_url}/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anonymous.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def test_axonflow_sdk_authenticates_with_client_id_and_secret(enterprise, credentials):
    client_id, secret = credentials
    with AxonFlow.sync(
        enterprise.base_url, client_id=client_id, client_secret=secret, retry_config=RetryConfig(enabled=False)
    ) as client:
        assert client.health_check() is True
        ctx = client.get_policy_approved_context(user_token="u", query="hello from the EU tenant")
        assert ctx.approved is True
        found = client._run_sync(
            client._async_client.search_audit_logs(AuditSearchRequest(decision_id=ctx.decision_id))
        )
        assert [e.id for e in found.entries] == [ctx.decision_id]
        assert found.entries[0].tenant_id == "acme-eu"
        assert found.entries[0].client_id == client_id

    with AxonFlow.sync(
        enterprise.base_url, client_id=client_id, client_secret="wrong", retry_config=RetryConfig(enabled=False)
    ) as wrong:
        with pytest.raises(AuthenticationError):
            wrong.get_policy_approved_context(user_token="u", query="hello")
    with AxonFlow.sync(enterprise.base_url, retry_config=RetryConfig(enabled=False)) as community:
        with pytest.raises(AuthenticationError):
            community.get_policy_approved_context(user_token="u", query="hello")
