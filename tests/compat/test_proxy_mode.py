"""The official AxonFlow Python SDK against an agent and an orchestrator (Proxy Mode, dynamic
policies, budgets, usage, pricing), the orchestrator calling the mock provider. Every step asserts on
what the SDK parsed and on the audit rows, so a wire-format drift or a lost row fails here."""

import json
import os
import uuid

os.environ["AXONFLOW_TELEMETRY"] = "off"
os.environ.pop("AXONFLOW_TRY", None)

import psycopg  # noqa: E402
import pytest  # noqa: E402
from axonflow import AxonFlow  # noqa: E402
from axonflow.exceptions import BudgetExceededError, PolicyViolationError  # noqa: E402
from axonflow.policies import (  # noqa: E402
    CreateDynamicPolicyRequest,
    DynamicPolicyAction,
    DynamicPolicyCondition,
    UpdateDynamicPolicyRequest,
)
from axonflow.types import (  # noqa: E402
    BudgetCheckRequest,
    BudgetOnExceed,
    BudgetPeriod,
    BudgetScope,
    CreateBudgetRequest,
    RetryConfig,
)

from conftest import COMPLETION, start_stack  # noqa: E402


@pytest.fixture(scope="module")
def stack(log_dir, upstream):
    agent, orchestrator = start_stack(log_dir, upstream)
    yield agent
    agent.stop()
    orchestrator.stop()


@pytest.fixture()
def client(stack, mock):
    with AxonFlow.sync(stack.base_url, client_id="proxy-suite", retry_config=RetryConfig(enabled=False)) as c:
        yield c


def rows(stack, sql, *args):
    with psycopg.connect(stack.database_url, autocommit=True) as connection:
        return connection.execute(sql, args).fetchall()


def test_allowed_call_answers_with_the_provider_text_and_one_audit_row(client, stack, mock):
    secret_query = f"What is 2+2? {uuid.uuid4().hex}"
    response = client.proxy_llm_call(user_token="user-1", query=secret_query, request_type="chat")
    assert response.success is True
    assert response.blocked is False
    assert response.data == "4"
    assert response.result == "4"
    assert response.policy_info.tenant_id == "default"
    decision_id = response.metadata["decision_id"]
    assert response.metadata["provider"] == "openai"
    assert response.metadata["total_tokens"] == 21
    # The provider got the query with the server-side key, not the client's credentials.
    sent = mock.requests[-1]
    assert sent["headers"]["authorization"] == "Bearer sk-server-side-compat-key"
    assert json.loads(sent["body"])["messages"][-1]["content"] == secret_query
    (row,) = rows(
        stack,
        "SELECT source, verdict, provider, model, prompt_tokens, completion_tokens, total_tokens, "
        "estimated_cost_usd::float8, http_status FROM llm_call_audits WHERE id = %s",
        decision_id,
    )
    # The row keeps the model sent (what is priced); the provider's own name for it is in metadata.
    assert row[:7] == ("proxy", "allow", "openai", "gpt-4o-mini", 14, 7, 21)
    assert row[7] > 0
    (metadata,) = rows(stack, "SELECT metadata FROM llm_call_audits WHERE id = %s", decision_id)[0]
    assert metadata["response_model"] == COMPLETION["model"]
    assert metadata["provider_type"] == "openai"
    assert [a["status"] for a in metadata["attempts"]] == [200]
    assert row[8] == 200
    everything = rows(stack, "SELECT string_agg(row_to_json(t)::text, ' ') FROM llm_call_audits t")[0][0]
    assert secret_query not in everything, "no prompt text at rest"


def test_static_policy_block_raises_with_every_matched_policy(client, stack, mock):
    with pytest.raises(PolicyViolationError) as raised:
        client.proxy_llm_call(
            user_token="u", query="SSN 123-45-6789 and card 4111 1111 1111 1111", request_type="chat"
        )
    assert "Social Security Number" in str(raised.value)
    assert mock.requests == [], "the provider was not called"
    (row,) = rows(
        stack,
        "SELECT verdict, http_status, metadata->'policies' FROM llm_call_audits "
        "WHERE source = 'proxy' AND verdict = 'deny' ORDER BY created_at DESC LIMIT 1",
    )
    assert row[0] == "deny" and row[1] == 403
    assert {"sys_pii_ssn", "sys_pii_credit_card"} <= set(row[2])


def test_dynamic_policies_are_managed_and_enforced_through_the_sdk(client, mock):
    created = client.create_dynamic_policy(
        CreateDynamicPolicyRequest(
            name="No forecasts for contractors",
            conditions=[
                DynamicPolicyCondition(field="query", operator="contains", value="quarterly forecast"),
                DynamicPolicyCondition(field="user.role", operator="in", value=["contractor", "intern"]),
            ],
            actions=[DynamicPolicyAction(type="block", config={"reason": "forecasts are for employees"})],
            priority=10,
        )
    )
    assert created.enabled is True
    assert [p.id for p in client.list_dynamic_policies()] == [created.id]
    assert client.get_dynamic_policy(created.id).name == "No forecasts for contractors"
    assert created.id in {p.id for p in client.get_effective_dynamic_policies()}

    contractor = {"user": {"role": "contractor"}}
    with pytest.raises(PolicyViolationError, match="forecasts are for employees"):
        client.proxy_llm_call(
            user_token="u", query="Show the Quarterly Forecast", request_type="chat", context=contractor
        )
    assert mock.requests == []
    # Not every condition holds: allowed.
    employee = client.proxy_llm_call(
        user_token="u", query="Show the quarterly forecast", request_type="chat", context={"user": {"role": "employee"}}
    )
    assert employee.success is True

    client.toggle_dynamic_policy(created.id, False)
    assert created.id not in {p.id for p in client.get_effective_dynamic_policies()}
    allowed = client.proxy_llm_call(
        user_token="u", query="Show the quarterly forecast", request_type="chat", context=contractor
    )
    assert allowed.success is True
    updated = client.update_dynamic_policy(created.id, UpdateDynamicPolicyRequest(enabled=True, priority=20))
    assert updated.priority == 20 and updated.enabled is True
    client.delete_dynamic_policy(created.id)
    assert client.list_dynamic_policies() == []


def test_personal_data_in_the_answer_is_masked(client, mock):
    leaky = dict(COMPLETION)
    leaky["choices"] = [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Sure: SSN 123-45-6789, mail jane.doe@example.com."},
            "finish_reason": "stop",
        }
    ]
    mock.reset(body=leaky)
    response = client.proxy_llm_call(user_token="u", query="Who is the customer?", request_type="chat")
    assert response.success is True
    assert "123-45-6789" not in response.data
    assert "jane.doe@example.com" not in response.data
    assert "[REDACTED:SSN]" in response.data
    assert "sys_pii_ssn" in response.policy_info.policies_evaluated


def test_budgets_block_calls_and_usage_comes_from_the_audit_rows(client, stack, mock):
    # Spend a little first, then a budget the spend already exceeds.
    client.proxy_llm_call(user_token="u", query="What is 2+2?", request_type="chat")
    budget_id = f"tiny-{uuid.uuid4().hex[:6]}"
    budget = client.create_budget(
        CreateBudgetRequest(
            id=budget_id,
            name="Tiny",
            scope=BudgetScope.TEAM,
            scope_id="default",
            limit_usd=0.000001,
            period=BudgetPeriod.MONTHLY,
            on_exceed=BudgetOnExceed.BLOCK,
            alert_thresholds=[50, 100],
        )
    )
    assert budget.id == budget_id
    decision = client.check_budget(BudgetCheckRequest(team_id="default"))
    assert decision.allowed is False
    status = client.get_budget_status(budget_id)
    assert status.is_exceeded is True and status.used_usd > 0
    with pytest.raises(BudgetExceededError) as raised:
        client.proxy_llm_call(user_token="u", query="What is 3+3?", request_type="chat")
    assert raised.value.budget_id == budget_id
    alerts = client.get_budget_alerts(budget_id)
    assert {a.threshold for a in alerts.alerts} == {50, 100}

    summary = client.get_usage_summary("monthly")
    allowed_calls = rows(
        stack,
        "SELECT count(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(estimated_cost_usd), 0)::float8 "
        "FROM llm_call_audits WHERE source = 'proxy' AND verdict = 'allow'",
    )[0]
    assert summary.total_requests == allowed_calls[0]
    assert summary.total_tokens_in == allowed_calls[1]
    assert abs(summary.total_cost_usd - allowed_calls[2]) < 1e-9
    breakdown = client.get_usage_breakdown("model", "monthly")
    assert sum(item.request_count for item in breakdown.items) == allowed_calls[0]
    records = client.list_usage_records()
    assert records.total == allowed_calls[0]
    assert all(r.provider == "openai" for r in records.records)
    client.delete_budget(budget_id)
    assert client.proxy_llm_call(user_token="u", query="What is 4+4?", request_type="chat").success


def test_pricing_is_the_audit_price_table(client):
    pricing = client.get_pricing(provider="openai", model="gpt-4o-mini")
    assert len(pricing.pricing) == 1
    assert pricing.pricing[0].pricing.input_per_1k > 0
