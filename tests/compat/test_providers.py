"""The official `openai` Python SDK through `/v1/chat/completions` to each of the six provider types,
registered in the tenant's provider registry (keys sealed server-side) and mocked by the validating
mock providers (`agent/examples/mock_providers.rs`). The SDK must parse every answer into a
`ChatCompletion` with usage, whatever the provider's own format."""

import json
import os
import re
import subprocess
import urllib.request

import psycopg
import pytest
from openai import BadRequestError, OpenAI

from conftest import _required_env, start_stack

KEK = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
STORED_KEY = "sk-compat-STOREDKEY-9d2f6b1e8a3c"
BEDROCK_KEY = "AKIDMOCKEXAMPLE:mock/secret/key/EXAMPLE"
TYPES = ["openai", "azure-openai", "anthropic", "gemini", "bedrock", "ollama"]


@pytest.fixture(scope="module")
def mock_providers():
    process = subprocess.Popen(
        [_required_env("AXONFLOW_MOCK_PROVIDERS_BIN")], stdout=subprocess.PIPE, text=True
    )
    line = process.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    assert match, f"unexpected first line from the mock providers: {line!r}"
    yield match.group(1)
    process.kill()
    process.wait()


def post(url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)


@pytest.fixture(scope="module")
def stack(log_dir, upstream, mock_providers):
    kek = {"AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY": KEK}
    agent, orchestrator = start_stack(log_dir, upstream, agent_env=kek, orchestrator_env=kek)
    base = mock_providers
    providers = [
        {"name": "oai", "type": "openai", "endpoint": f"{base}/v1", "model": "gpt-4o-mini",
         "settings": {"model_map": {"m-openai": "gpt-4o-mini"}}, "api_key": STORED_KEY},
        {"name": "azure", "type": "azure-openai", "endpoint": base, "model": "dep-1",
         "settings": {"model_map": {"m-azure-openai": "dep-1"}}, "api_key": STORED_KEY},
        {"name": "claude", "type": "anthropic", "endpoint": base, "model": "claude-3-5-haiku-latest",
         "settings": {"model_map": {"m-anthropic": "claude-3-5-haiku-latest"}}, "api_key": STORED_KEY},
        {"name": "gem", "type": "gemini", "endpoint": base, "model": "gemini-2.5-flash",
         "settings": {"model_map": {"m-gemini": "gemini-2.5-flash"}}, "api_key": STORED_KEY},
        {"name": "rock", "type": "bedrock", "endpoint": base, "region": "eu-west-1",
         "model": "amazon.nova-lite-v1:0", "settings": {"model_map": {"m-bedrock": "amazon.nova-lite-v1:0"}},
         "api_key": BEDROCK_KEY},
        {"name": "local", "type": "ollama", "endpoint": base, "model": "llama3.2",
         "settings": {"model_map": {"m-ollama": "llama3.2"}}},
    ]
    for provider in providers:
        status, body = post(f"{agent.base_url}/api/v1/llm-providers", provider)
        assert status == 201, body
        assert body["provider"]["has_api_key"] is (provider["type"] != "ollama")
        assert "api_key" not in body["provider"]
    yield agent
    agent.stop()
    orchestrator.stop()


@pytest.fixture()
def client(stack):
    # No X-Provider-Key: the tenant's registered providers answer with their stored keys.
    return OpenAI(api_key="unused-by-the-gateway", base_url=f"{stack.base_url}/v1", max_retries=0)


@pytest.mark.parametrize("kind", TYPES)
def test_each_provider_answers_a_parsed_chat_completion_with_usage(client, stack, kind):
    raw = client.chat.completions.with_raw_response.create(
        model=f"m-{kind}",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}],
        max_tokens=20,
    )
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == f"Hello from {kind}"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    provider = raw.headers["x-axonflow-provider"]
    decision_id = raw.headers["x-axonflow-decision-id"]
    with psycopg.connect(stack.database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT provider, metadata->>'provider_type', prompt_tokens FROM llm_call_audits WHERE id = %s::uuid",
            (decision_id,),
        ).fetchone()
    assert row == (provider, kind, completion.usage.prompt_tokens)


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "bedrock"])
def test_tool_calls_come_back_as_openai_tool_calls(client, kind):
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    completion = client.chat.completions.create(
        model=f"m-{kind}", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=tools
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    follow_up = client.chat.completions.create(
        model=f"m-{kind}",
        tools=tools,
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'},
        ],
    )
    assert follow_up.choices[0].finish_reason == "stop"
    assert follow_up.choices[0].message.content == f"Hello from {kind}"


def test_what_a_provider_cannot_express_is_a_clear_400(client):
    with pytest.raises(BadRequestError) as raised:
        client.chat.completions.create(
            model="m-anthropic", messages=[{"role": "user", "content": "hi"}], logprobs=True
        )
    assert raised.value.body["param"] == "logprobs"
