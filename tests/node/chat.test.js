// The official `openai` Node SDK against the real agent binary, its OpenAI upstream the validating
// mock providers: a plain chat completion, and streamed ones (text, usage, a tool call, the
// gateway's headers and the audit row of a stream).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import OpenAI from 'openai';

import { PROVIDER_KEY, TRACE_ID, UUID, mockReceived, queryRows, startStack, waitFor } from './harness.js';

const MESSAGES = [{ role: 'user', content: 'Say hello' }];
const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];
/** How long one test may take; a stream that never ends fails instead of hanging the suite. */
const TEST_TIMEOUT_MS = 30_000;

/** Reads a stream to its end and returns its chunks. */
async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** The text of the content deltas of a stream's chunks, joined. */
function streamedText(chunks) {
  return chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('');
}

describe('the openai Node SDK through the agent', () => {
  let stack;
  let client;

  before(async () => {
    stack = await startStack();
    client = new OpenAI({
      apiKey: 'unused',
      baseURL: `${stack.agent.baseUrl}/v1`,
      defaultHeaders: { 'X-Provider-Key': PROVIDER_KEY },
      maxRetries: 0,
      timeout: 20_000,
    });
  });

  after(async () => {
    await stack?.stop();
  });

  it('answers with the mock text, usage and a decision id', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: MESSAGES, max_tokens: 20 })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0].message.content, 'Hello from openai');
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(data.usage.total_tokens, 16);
    assert.match(response.headers.get('x-axonflow-decision-id') ?? '', UUID);

    const received = await mockReceived(stack.mockUrl);
    const last = received.at(-1);
    assert.equal(last.path, '/v1/chat/completions');
    assert.equal(last.rejected, null, 'the mock accepted the forwarded request');
    assert.equal(last.headers.authorization, `Bearer ${PROVIDER_KEY}`);
  });

  it('streams the text in chunks, without usage when none was asked', { timeout: TEST_TIMEOUT_MS }, async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true });
    const chunks = await collect(stream);
    assert.ok(chunks.length > 1, `more than one chunk, got ${chunks.length}`);
    for (const chunk of chunks) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.ok(chunk.choices.length > 0, `a chunk without choices: ${JSON.stringify(chunk)}`);
      assert.ok(chunk.usage == null, `a usage chunk the client did not ask for: ${JSON.stringify(chunk)}`);
    }
    assert.equal(streamedText(chunks), 'Hello from openai');
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  it('ends the stream with one usage chunk when asked', { timeout: TEST_TIMEOUT_MS }, async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    const usageChunks = chunks.filter((chunk) => chunk.choices.length === 0);
    assert.equal(usageChunks.length, 1, `one chunk without choices, got ${usageChunks.length}`);
    assert.equal(chunks.at(-1), usageChunks[0], 'the usage chunk comes last');
    assert.equal(usageChunks[0].usage.total_tokens, 16);
    assert.equal(streamedText(chunks), 'Hello from openai');
  });

  it('streams a tool call whose argument pieces join into JSON', { timeout: TEST_TIMEOUT_MS }, async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: TOOLS,
      stream: true,
    });
    const chunks = await collect(stream);
    let id;
    let name;
    let args = '';
    let finishReason;
    for (const chunk of chunks) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      for (const call of choice.delta?.tool_calls ?? []) {
        assert.equal(call.index, 0);
        id ??= call.id;
        name ??= call.function?.name;
        args += call.function?.arguments ?? '';
      }
      finishReason = choice.finish_reason ?? finishReason;
    }
    assert.equal(id, 'call_mock1');
    assert.equal(name, 'get_weather');
    assert.deepEqual(JSON.parse(args), { city: 'Paris' });
    assert.equal(finishReason, 'tool_calls');
  });

  it('gives a stream the gateway headers and one completed audit row', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true })
      .withResponse();
    const decisionId = response.headers.get('x-axonflow-decision-id') ?? '';
    assert.match(decisionId, UUID);
    assert.match(response.headers.get('x-axonflow-trace-id') ?? '', TRACE_ID);
    assert.equal(streamedText(await collect(stream)), 'Hello from openai');

    // The row is written once the stream has ended; UUID above makes the id safe to inline.
    const sql =
      "SELECT id::text AS id, metadata->>'stream' AS stream, metadata->>'stream_end' AS stream_end " +
      `FROM llm_call_audits WHERE id = '${decisionId}'::uuid`;
    const rows = await waitFor(async () => {
      const found = await queryRows(stack.databaseUrl, sql);
      return found.length > 0 ? found : null;
    }, 5_000);
    assert.ok(rows, `no audit row for ${decisionId} within 5 s`);
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0], { id: decisionId, stream: 'true', stream_end: 'completed' });
  });
});
