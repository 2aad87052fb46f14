"""Streamed chat completions (`stream: true`) through the agent, driven by the official `openai` Python SDK
against the real agent binary. The OpenAI upstream is the validating mock providers
(`agent/examples/mock_providers.rs`): its default stream is `Hello from openai` in pieces of at most 4 bytes,
and its scripted streams send raw Server-Sent Events with quirks, or break off."""

import base64
import json
import re
import subprocess
import urllib.request
import uuid

import openai
import psycopg
import pytest
from openai import OpenAI

from conftest import PROVIDER_KEY, _required_env, start_agent, wait_for

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
MESSAGES = [{"role": "user", "content": "Say hello"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


@pytest.fixture(scope="module")
def mock_providers():
    process = subprocess.Popen([_required_env("AXONFLOW_MOCK_PROVIDERS_BIN")], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    assert match, f"unexpected first line from the mock providers: {line!r}"
    yield match.group(1)
    process.kill()
    process.wait()


@pytest.fixture(scope="module")
def streaming_agent(log_dir, mock_providers):
    agent = start_agent(log_dir, {"OPENAI_BASE_URL": f"{mock_providers}/v1"})
    yield agent
    agent.stop()


def control(base_url, route, body):
    request = urllib.request.Request(
        f"{base_url}{route}", data=json.dumps(body).encode(), headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture()
def mock(mock_providers):
    control(mock_providers, "/_reset", {})
    return mock_providers


@pytest.fixture()
def client(streaming_agent):
    return OpenAI(api_key="unused", base_url=f"{streaming_agent.base_url}/v1",
                  default_headers={"X-Provider-Key": PROVIDER_KEY}, max_retries=0, timeout=20)


def script_stream(mock, chunks, then="end"):
    """The next OpenAI request gets these raw body chunks (bytes go as base64, text as is)."""
    encoded = [{"base64": base64.b64encode(c).decode()} if isinstance(c, bytes) else c for c in chunks]
    control(mock, "/_script", {"path_contains": "/chat/completions",
                               "replies": [{"stream": {"chunks": encoded, "delay_ms": 20, "then": then}}]})


def chunk_event(content, finish_reason=None, line_end="\n"):
    chunk = {"id": "chatcmpl-quirks", "object": "chat.completion.chunk", "created": 1700000000,
             "model": "gpt-4o-mini",
             "choices": [{"index": 0, "delta": {"content": content} if content is not None else {},
                          "logprobs": None, "finish_reason": finish_reason}]}
    return f"data: {json.dumps(chunk, ensure_ascii=False)}{line_end}{line_end}"


def text_of(chunks):
    return "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)


def stream_audit(agent, decision_id):
    """The audit rows of a stream's decision, polled until one is there (it is written when the stream ends)."""
    def rows():
        with psycopg.connect(agent.database_url, autocommit=True) as connection:
            return connection.execute(
                "SELECT metadata->>'stream', metadata->>'stream_end' FROM llm_call_audits WHERE id = %s",
                (uuid.UUID(decision_id),),
            ).fetchall()

    wait_for(lambda: len(rows()) > 0, timeout=5)
    return rows()


def test_stream_yields_the_text_without_usage(client, mock):
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert len(chunks) > 1
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.choices for c in chunks), "no chunk without choices when usage was not asked for"
    assert all(c.usage is None for c in chunks)
    assert text_of(chunks) == "Hello from openai"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_include_usage_adds_one_final_usage_chunk(client, mock):
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ))
    usage_chunks = [c for c in chunks if not c.choices]
    assert len(usage_chunks) == 1
    assert chunks[-1] is usage_chunks[0]
    assert usage_chunks[0].usage.total_tokens == 16
    assert text_of(chunks) == "Hello from openai"


def test_streamed_tool_call(client, mock):
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=TOOLS, stream=True
    ))
    call_id, name, arguments, finish_reason = None, None, "", None
    for chunk in chunks:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        for call in choice.delta.tool_calls or []:
            assert call.index == 0
            call_id = call_id or call.id
            name = name or (call.function.name if call.function else None)
            arguments += (call.function.arguments or "") if call.function else ""
        finish_reason = choice.finish_reason or finish_reason
    assert call_id == "call_mock1"
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "Paris"}
    assert finish_reason == "tool_calls"


def test_stream_has_gateway_headers_and_one_completed_audit_row(client, mock, streaming_agent):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    decision_id = raw.headers["x-axonflow-decision-id"]
    assert uuid.UUID(decision_id)
    assert TRACE_ID.match(raw.headers["x-axonflow-trace-id"])
    assert text_of(list(raw.parse())) == "Hello from openai"
    assert stream_audit(streaming_agent, decision_id) == [("true", "completed")]


def test_quirky_sse_still_yields_the_whole_text(client, mock):
    first = chunk_event("Hé", line_end="\r\n").encode()
    split = first.index("é".encode()) + 1  # between the two bytes of é
    script_stream(mock, [
        first[:split],
        first[split:],
        ": keep-alive\r\n\r\n",
        chunk_event("llo ", line_end="\r\n"),
        chunk_event("wörld", line_end="\r\n"),
        chunk_event(None, finish_reason="stop", line_end="\r\n"),
        "data: [DONE]\r\n\r\n",
    ])
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert text_of(chunks) == "Héllo wörld"


def test_a_broken_upstream_stream_ends_in_an_error_and_is_audited(client, mock, streaming_agent):
    script_stream(mock, [chunk_event("Hel")], then="close")
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    decision_id = raw.headers["x-axonflow-decision-id"]
    chunks, error = [], None
    try:
        for chunk in raw.parse():
            chunks.append(chunk)
    except openai.APIError as exc:  # an error event, or the connection dropped (APIConnectionError)
        error = exc
    finished = any(c.choices and c.choices[0].finish_reason for c in chunks)
    assert error is not None or not finished, "the client must not see a broken stream as complete"
    assert text_of(chunks) == "Hel"[: len(text_of(chunks))]
    assert stream_audit(streaming_agent, decision_id) == [("true", "upstream_error")]
