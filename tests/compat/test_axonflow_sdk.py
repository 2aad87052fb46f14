"""The official AxonFlow Python SDK (pinned in requirements.txt) against the running agent binary:
health, Gateway Mode, Decision Mode, static policies and audit search. Every step asserts on field
values the SDK parsed, so a wire-format drift fails here."""

import os
import time
import uuid
from datetime import datetime, timedelta, timezone

# The SDK's usage heartbeat would call out to the internet; it is off for the suite.
os.environ["AXONFLOW_TELEMETRY"] = "off"
os.environ.pop("AXONFLOW_TRY", None)

import pytest  # noqa: E402
from axonflow import AxonFlow  # noqa: E402
from axonflow.exceptions import AxonFlowError, PolicyViolationError  # noqa: E402
from axonflow.policies import (  # noqa: E402
    CreateStaticPolicyRequest,
    ListStaticPoliciesOptions,
    PolicyAction,
    PolicyCategory,
    PolicySeverity,
    PolicyTier,
    UpdateStaticPolicyRequest,
)
from axonflow.types import (  # noqa: E402
    AuditQueryOptions,
    AuditSearchRequest,
    DecideRequest,
    DecisionTarget,
    RetryConfig,
    TokenUsage,
)

from conftest import start_agent  # noqa: E402

# One client id per run, so that the audit search can find exactly this suite's calls.
CLIENT_ID = f"sdk-suite-{uuid.uuid4().hex[:8]}"


def sdk(agent, client_id=CLIENT_ID):
    return AxonFlow.sync(
        agent.base_url,
        client_id=client_id,
        retry_config=RetryConfig(enabled=False),
    )


def search(client, **filters):
    """`search_audit_logs` has no sync wrapper in the SDK; run the async call on its loop."""
    return client._run_sync(client._async_client.search_audit_logs(AuditSearchRequest(**filters)))


@pytest.fixture(scope="module")
def client(agent):
    with sdk(agent) as c:
        yield c


@pytest.fixture(scope="module")
def made():
    """Decision ids this module created, by kind, for the final audit search."""
    return {"pre_check": [], "llm_call": [], "decide": [], "mcp_check_input": []}


@pytest.fixture(scope="module")
def redacting_agent(log_dir):
    process = start_agent(log_dir, {"PII_ACTION": "redact"})
    yield process
    process.stop()


def test_health(client):
    assert client.health_check() is True
    health = client.health_check_detailed()
    assert health.status == "healthy"
    assert health.service == "axonflow-agent"
    names = {capability.name for capability in health.capabilities}
    assert {"openai_gateway", "gateway_mode", "decision_mode", "static_policies", "audit_search"} <= names
    assert health.sdk_compatibility.recommended_sdk_version["python"] == "9.5.0"


def test_pre_check_approved_then_audited(client, db, made):
    ctx = client.get_policy_approved_context(
        user_token="user-jwt-abc", query="Summarise our refund policy", data_sources=["postgres"]
    )
    assert ctx.approved is True
    assert ctx.policies == []
    assert ctx.block_reason is None
    assert ctx.requires_redaction is False
    assert ctx.approved_data == {"query": "Summarise our refund policy"}
    assert ctx.rate_limit_info.limit == 60000
    assert 0 <= ctx.rate_limit_info.remaining < 60000
    assert ctx.rate_limit_info.reset_at > datetime.now(timezone.utc) - timedelta(seconds=1)
    assert timedelta(minutes=4) < ctx.expires_at - datetime.now(timezone.utc) <= timedelta(minutes=5)
    made["pre_check"].append(ctx.decision_id)

    result = client.audit_llm_call(
        context_id=ctx.context_id,
        response_summary="Refunds within 30 days; ask ann.lee@example.org",
        provider="openai",
        model="gpt-4o-mini",
        token_usage=TokenUsage(prompt_tokens=200, completion_tokens=50, total_tokens=250),
        latency_ms=321,
        metadata={"ticket": "T-1"},
    )
    assert result.success is True
    made["llm_call"].append(result.audit_id)
    row = db.execute(
        "SELECT client_id, provider, model, total_tokens, latency_ms, estimated_cost_usd::float8, "
        "metadata->>'response_summary_redacted' FROM llm_call_audits WHERE id = %s",
        (result.audit_id,),
    ).fetchone()
    assert row[:5] == (CLIENT_ID, "openai", "gpt-4o-mini", 250, 321)
    assert row[5] == pytest.approx((200 * 0.15 + 50 * 0.60) / 1e6)
    assert row[6] == "Refunds within 30 days; ask [REDACTED:EMAIL]"


@pytest.mark.parametrize(
    ("query", "expected_policy"),
    [
        ("Customer SSN is 123-45-6789, update the record", "sys_pii_ssn"),
        ("SELECT * FROM users WHERE name = '' OR 1=1 --", "sys_sqli_or_true"),
    ],
)
def test_pre_check_blocked(client, made, query, expected_policy):
    ctx = client.get_policy_approved_context(user_token="user-jwt-abc", query=query)
    assert ctx.approved is False
    assert expected_policy in ctx.policies
    assert ctx.block_reason and "detected" in ctx.block_reason
    assert ctx.approved_data == {}
    made["pre_check"].append(ctx.decision_id)


def test_audit_refuses_unknown_and_expired_contexts(client, log_dir):
    with pytest.raises(AxonFlowError, match="HTTP 400.*unknown_context"):
        client.audit_llm_call(
            context_id=str(uuid.uuid4()),
            response_summary="x",
            provider="openai",
            model="gpt-4o",
            token_usage=TokenUsage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
            latency_ms=1,
        )
    short_lived = start_agent(log_dir, {"AXONFLOW_GATEWAY_CONTEXT_TTL_SECS": "1"})
    try:
        with sdk(short_lived) as other:
            ctx = other.get_policy_approved_context(user_token="u", query="hello")
            time.sleep(1.3)
            with pytest.raises(AxonFlowError, match="HTTP 400.*context_expired"):
                other.audit_llm_call(
                    context_id=ctx.context_id,
                    response_summary="x",
                    provider="openai",
                    model="gpt-4o",
                    token_usage=TokenUsage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
                    latency_ms=1,
                )
    finally:
        short_lived.stop()


def test_decide_allow_and_deny(client, made):
    allow = client.decide(
        DecideRequest(stage="llm", query="Translate 'good morning' into French", target=DecisionTarget(model="gpt-4o"))
    )
    assert allow.verdict == "allow"
    assert allow.obligations == []
    assert allow.evaluated_policies == []
    assert len(allow.trace_id) == 32 and int(allow.trace_id, 16) >= 0
    assert allow.stage == "llm"
    assert allow.expires_at > datetime.now(timezone.utc)
    made["decide"].append(allow.decision_id)

    deny = client.decide(DecideRequest(stage="tool", query="DROP TABLE customers; card 4111 1111 1111 1111"))
    assert deny.verdict == "deny"
    assert "sys_dangerous_drop" in deny.evaluated_policies
    assert "sys_pii_credit_card" in deny.evaluated_policies
    assert any(reason.startswith("sys_pii_credit_card: ") for reason in deny.reasons)
    made["decide"].append(deny.decision_id)


def test_fulfill_request_redacts_through_check_input(redacting_agent, db):
    with sdk(redacting_agent) as c:
        statement = "Email jane.doe@example.com about card 4111 1111 1111 1111"
        decision = c.decide(DecideRequest(stage="llm", query=statement))
        assert decision.verdict == "allow"
        assert [o.type for o in decision.obligations] == ["redact_pii"]
        assert decision.obligations[0].fulfillment.phase == "request"
        content, redacted = c.fulfill_request(decision, statement)
        assert redacted is True
        assert content == "Email [REDACTED:EMAIL] about card [REDACTED:CREDIT_CARD]"
        clean = c.decide(DecideRequest(stage="llm", query="nothing personal here"))
        assert clean.obligations == []
        assert c.fulfill_request(clean, "nothing personal here") == ("nothing personal here", False)


def test_static_policy_lifecycle(client, made):
    listed = client.list_static_policies(ListStaticPoliciesOptions(tier=PolicyTier.SYSTEM, limit=100))
    by_id = {p.policy_id: p for p in listed}
    assert by_id["sys_pii_ssn"].category == PolicyCategory.PII_US
    assert by_id["sys_pii_ssn"].severity == PolicySeverity.CRITICAL
    assert all(p.tier == PolicyTier.SYSTEM for p in listed)

    code = f"ZEPHYR-{uuid.uuid4().int % 9000 + 1000}"
    before = client.get_policy_approved_context(user_token="u", query=f"status of {code}")
    assert before.approved is True
    made["pre_check"].append(before.decision_id)
    created = client.create_static_policy(
        CreateStaticPolicyRequest(
            name="Zephyr project codes",
            category=PolicyCategory.SENSITIVE_DATA,
            pattern=r"\bZEPHYR-\d{4}\b",
            severity=PolicySeverity.HIGH,
            action=PolicyAction.BLOCK,
            tags=["projects"],
        )
    )
    assert created.tier == PolicyTier.TENANT
    assert created.version == 1
    blocked = client.get_policy_approved_context(user_token="u", query=f"status of {code}")
    assert blocked.approved is False
    assert blocked.policies == [created.policy_id]
    made["pre_check"].append(blocked.decision_id)

    trial = client.test_pattern(r"\bZEPHYR-(\d{4})\b", [code, "zephyr"])
    assert trial.valid is True
    assert [m.matched for m in trial.matches] == [True, False]
    assert trial.matches[0].groups == [code.split("-")[1]]
    assert client.test_pattern("(unclosed", ["x"]).valid is False

    updated = client.update_static_policy(created.id, UpdateStaticPolicyRequest(action=PolicyAction.WARN))
    assert updated.action == PolicyAction.WARN
    assert updated.version == 2
    warned = client.get_policy_approved_context(user_token="u", query=f"status of {code}")
    assert warned.approved is True
    assert warned.policies == [created.policy_id], "a warn match is reported, not enforced"
    made["pre_check"].append(warned.decision_id)
    assert client.get_static_policy(created.id).action == PolicyAction.WARN
    effective = client.get_effective_static_policies()
    assert created.policy_id in {p.policy_id for p in effective}

    with pytest.raises(PolicyViolationError, match="sys_pii_ssn is a system policy"):
        client.update_static_policy(by_id["sys_pii_ssn"].id, UpdateStaticPolicyRequest(action=PolicyAction.LOG))
    with pytest.raises(AxonFlowError, match="HTTP 422"):
        client.create_static_policy(
            CreateStaticPolicyRequest(name="bad", category=PolicyCategory.SENSITIVE_DATA, pattern="(unclosed")
        )

    client.delete_static_policy(created.id)
    with pytest.raises(AxonFlowError, match="HTTP 404"):
        client.get_static_policy(created.id)


def test_search_finds_exactly_this_suites_calls(client, made):
    # Runs last in this module: every pre-check and llm call above is in the trail.
    found = search(client, client_id=CLIENT_ID, limit=1000)
    ids = {entry.id for entry in found.entries}
    expected = set(made["pre_check"]) | set(made["llm_call"]) | set(made["decide"])
    assert ids == expected
    assert all(entry.client_id == CLIENT_ID for entry in found.entries)
    assert found.total == len(found.entries)

    blocked = search(client, client_id=CLIENT_ID, action="blocked", limit=1000)
    assert {e.policy_decision for e in blocked.entries} == {"blocked"}
    # The SSN and SQL-injection pre-checks, the Zephyr block, and the denied decide.
    assert {e.id for e in blocked.entries} == {
        made["pre_check"][1], made["pre_check"][2], made["pre_check"][4], made["decide"][1]
    }

    story = search(client, decision_id=made["pre_check"][0])
    assert {e.id for e in story.entries} == {made["pre_check"][0], made["llm_call"][0]}
    llm = next(e for e in story.entries if e.id == made["llm_call"][0])
    assert (llm.provider, llm.model, llm.tokens_used, llm.response_time_ms) == ("openai", "gpt-4o-mini", 250, 321)

    by_policy = search(client, client_id=CLIENT_ID, policy_name="sys_pii_ssn")
    assert [e.id for e in by_policy.entries] == [made["pre_check"][1]]

    page = search(client, client_id=CLIENT_ID, limit=2, offset=1)
    assert len(page.entries) == 2 and page.offset == 1 and page.total == found.total

    timeline = client._run_sync(
        client._async_client.get_audit_logs_by_tenant("default", AuditQueryOptions(limit=1000))
    )
    assert expected <= {e.id for e in timeline.entries}
    with pytest.raises(AxonFlowError, match="HTTP 403"):
        client._run_sync(client._async_client.get_audit_logs_by_tenant("another-tenant"))


@pytest.fixture(scope="module")
def guarded_agent(log_dir):
    process = start_agent(log_dir, {"ADMIN_API_KEY": "compat-admin-key-0123456789abcdef"})
    yield process
    process.stop()


def test_policy_changes_are_recorded_and_read_back_as_versions(log_dir):
    from axonflow.policies import CreatePolicyOverrideRequest, OverrideAction

    agent = start_agent(log_dir, {})
    try:
        with sdk(agent, client_id="versions-app") as c:
            override = c.create_policy_override(
                "sys_pii_email",
                CreatePolicyOverrideRequest(action_override=OverrideAction.WARN, override_reason="pilot"),
            )
            assert override.action_override == OverrideAction.WARN
            c.delete_policy_override("sys_pii_email")
            versions = c.get_static_policy_versions("sys_pii_email")
            assert [v.change_type for v in versions] == ["override_clear", "override_set"]
            assert [v.version for v in versions] == [2, 1]
            assert versions[1].changed_by == "versions-app"
            assert versions[1].snapshot["action"] == "warn"
            assert versions[1].snapshot["override"]["override_reason"] == "pilot"
            assert versions[0].snapshot["has_override"] is False
    finally:
        agent.stop()


def test_weakening_without_admin_rights_raises(guarded_agent):
    from axonflow.policies import CreatePolicyOverrideRequest, OverrideAction

    with sdk(guarded_agent, client_id="no-rights-app") as c:
        with pytest.raises(AxonFlowError, match="admin rights"):
            c.create_policy_override(
                "sys_pii_email",
                CreatePolicyOverrideRequest(action_override=OverrideAction.LOG, override_reason="quieter"),
            )
        assert c.get_static_policy_versions("sys_pii_email") == []
        denied = c.get_policy_approved_context(user_token="u", query="write to jane@example.com")
        assert denied.approved is False
