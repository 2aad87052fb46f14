"""The seed's OpenAI quick start and error cases, driven by the official `openai` Python SDK against
the running agent binary. Tests run in file order; the last one checks the whole suite's leftovers."""

import json
import re
import uuid

import urllib.error
import urllib.request
import openai
import pytest
from openai import OpenAI

from conftest import PROVIDER_KEY, start_agent

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def client_for(agent, with_key=True, api_key="any-value"):
    headers = {"X-Provider-Key": PROVIDER_KEY} if with_key else {}
    return OpenAI(api_key=api_key, base_url=f"{agent.base_url}/v1", default_headers=headers, max_retries=0)


def audit_row(db, decision_id):
    rows = db.execute(
        "SELECT provider, model, verdict, prompt_tokens, completion_tokens, total_tokens, "
        "estimated_cost_usd::float8, latency_ms, client_id, metadata FROM llm_call_audits WHERE id = %s",
        (uuid.UUID(decision_id),),
    ).fetchall()
    assert len(rows) == 1, f"expected one audit row for {decision_id}, found {len(rows)}"
    keys = ["provider", "model", "verdict", "prompt_tokens", "completion_tokens", "total_tokens", "cost",
            "latency_ms", "client_id", "metadata"]
    return dict(zip(keys, rows[0]))


def error_of(exc):
    body = exc.body if isinstance(exc.body, dict) else {}
    return body.get("error", body)


def test_quick_start_returns_content_usage_headers_and_one_audit_row(agent, mock, db):
    client = client_for(agent)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "What is 2+2?"}],
        max_tokens=100,
    )
    response = raw.parse()
    assert response.choices[0].message.content == "4"
    assert response.usage.total_tokens == 21
    decision_id = raw.headers["x-axonflow-decision-id"]
    assert uuid.UUID(decision_id)
    assert TRACE_ID.match(raw.headers["x-axonflow-trace-id"])

    assert len(mock.requests) == 1
    forwarded = mock.requests[0]
    assert forwarded["path"] == "/v1/chat/completions"
    assert forwarded["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"
    sent = json.loads(forwarded["body"])
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"] == [{"role": "user", "content": "What is 2+2?"}]
    assert sent["max_tokens"] == 100

    row = audit_row(db, decision_id)
    assert (row["provider"], row["model"], row["verdict"]) == ("openai", "gpt-4o-mini", "allow")
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 7, 21)
    assert row["cost"] > 0
    assert row["metadata"]["decision_id"] == decision_id
    assert row["metadata"]["verdict"] == "allow"


def test_ssn_example_raises_bad_request_and_is_audited_as_deny(agent, mock, db):
    client = client_for(agent)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "My SSN is 123-45-6789"}]
        )
    exc = raised.value
    assert exc.status_code == 400
    assert exc.type == "policy_violation"
    assert exc.code == "policy_denied"
    assert error_of(exc)["message"] == "Request blocked by policy: Social Security Number detected"
    assert mock.requests == [], "the provider received nothing"

    decision_id = exc.response.headers["x-axonflow-decision-id"]
    row = audit_row(db, decision_id)
    assert row["verdict"] == "deny"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (0, 0, 0)
    assert row["metadata"]["policies"] == ["sys_pii_ssn"]


def test_sql_injection_is_denied(agent, mock):
    client = client_for(agent)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Look up user 1' UNION SELECT username, password FROM users--"}],
        )
    assert raised.value.code == "policy_denied"
    assert "SQL injection" in error_of(raised.value)["message"]
    assert mock.requests == []


def test_missing_provider_key(agent, mock):
    client = client_for(agent, with_key=False)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.code == "missing_provider_key"
    assert error_of(raised.value)["message"].startswith("X-Provider-Key header is required")
    assert mock.requests == []


def test_upstream_401_is_passed_through(agent, mock, db):
    upstream_error = {
        "error": {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    mock.reset(status=401, body=upstream_error)
    client = client_for(agent)
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    exc = raised.value
    assert exc.status_code == 401
    assert exc.code == "invalid_api_key"
    assert error_of(exc)["message"] == "Incorrect API key provided."
    decision_id = exc.response.headers["x-axonflow-decision-id"]
    assert TRACE_ID.match(exc.response.headers["x-axonflow-trace-id"])
    row = audit_row(db, decision_id)
    assert row["total_tokens"] == 0
    assert row["metadata"]["upstream_status"] == 401


def test_upstream_down_is_a_502(log_dir):
    down = start_agent(log_dir, {"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"})
    try:
        client = client_for(down)
        with pytest.raises(openai.InternalServerError) as raised:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert raised.value.status_code == 502
        assert raised.value.code == "upstream_unreachable"
        assert "x-axonflow-decision-id" in raised.value.response.headers
    finally:
        down.stop()


@pytest.mark.parametrize(
    "body, status, code",
    [
        (b"{not json", 400, "invalid_json"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', 400, "missing_required_parameter"),
        (b'{"model": "gpt-4o-mini", "messages": "hi"}', 400, "invalid_type"),
        (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 42}]}', 400, "invalid_type"),
        (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "' + b"a" * (11 * 1024 * 1024) + b'"}]}',
         413, "request_too_large"),
    ],
    ids=["invalid-json", "missing-model", "messages-not-array", "content-wrong-type", "over-10-MiB"],
)
def test_malformed_bodies_get_openai_shaped_errors(agent, mock, body, status, code):
    request = urllib.request.Request(
        f"{agent.base_url}/v1/chat/completions",
        data=body,
        method="POST",
        headers={"content-type": "application/json", "x-provider-key": PROVIDER_KEY},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=30)
    assert raised.value.code == status
    error = json.loads(raised.value.read())["error"]
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert mock.requests == []


def test_zz_provider_key_is_in_no_audit_row_and_no_log(agent, db, log_dir):
    """Runs last: after every call above, the key string must be nowhere we persist."""
    n_rows = db.execute("SELECT count(*) FROM llm_call_audits").fetchone()[0]
    assert n_rows >= 4
    leaks = db.execute(
        "SELECT count(*) FROM llm_call_audits t WHERE row_to_json(t)::text LIKE %s", (f"%{PROVIDER_KEY}%",)
    ).fetchone()[0]
    assert leaks == 0
    logs = list(log_dir.glob("*.log"))
    assert logs, "agent logs were captured"
    for log in logs:
        text = log.read_text(encoding="utf-8", errors="replace")
        assert PROVIDER_KEY not in text, f"provider key found in {log}"
