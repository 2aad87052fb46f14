// Harness for the Node SDK tests: a fresh Postgres database, the validating mock providers
// (agent/examples/mock_providers.rs) and the real agent binary started against both, as
// tests/compat/conftest.py does for the Python suite. Run the tests through ./install/test.sh, which
// builds the binaries and sets the environment this file reads.

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

/** The provider key the tests send in `X-Provider-Key`; the agent forwards it to the mock. */
export const PROVIDER_KEY = 'sk-node-test-key';

/** A decision id: a UUID, as the agent writes it. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A trace id: 32 lowercase hex digits. */
export const TRACE_ID = /^[0-9a-f]{32}$/;

/** Every child process still running, killed when this process exits whatever the reason. */
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** The value of an environment variable the suite cannot run without. */
export function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set; run the suite through ./install/test.sh`);
  }
  return value;
}

/** The psql program: in PG_BINDIR when that is set, else the one on PATH. */
function psqlProgram() {
  const bindir = process.env.PG_BINDIR;
  return bindir ? path.join(bindir, 'psql') : 'psql';
}

/** Runs one SQL command with psql against a database URL and returns what psql printed. */
export function psql(url, sql) {
  const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql];
  return new Promise((resolve, reject) => {
    execFile(
      psqlProgram(),
      args,
      { env: { ...process.env, PGCONNECT_TIMEOUT: '10' }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`psql failed (${error.message.trim()}): ${stderr.trim()}`));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/** The rows of a query as plain objects (psql turns them into one JSON array). */
export async function queryRows(url, sql) {
  const out = await psql(url, `SELECT coalesce(json_agg(t), '[]'::json) FROM (${sql}) t`);
  return JSON.parse(out.trim());
}

/** Creates a database with a new name next to the admin database in DATABASE_URL; returns its URL. */
export async function freshDatabase() {
  const admin = requiredEnv('DATABASE_URL');
  const name = `axonflow_node_${randomBytes(6).toString('hex')}`;
  await psql(admin, `CREATE DATABASE ${name}`);
  const [base, ...rest] = admin.split('?');
  const query = rest.join('?');
  const url = `${base.slice(0, base.lastIndexOf('/'))}/${name}`;
  return query ? `${url}?${query}` : url;
}

/** The directory for process logs: AXONFLOW_TEST_LOG_DIR, else a new temporary directory. */
function logDir() {
  const configured = process.env.AXONFLOW_TEST_LOG_DIR;
  if (configured) {
    mkdirSync(configured, { recursive: true });
    return configured;
  }
  return mkdtempSync(path.join(tmpdir(), 'axonflow-node-'));
}

/**
 * Starts a binary, copies its stdout and stderr into a log file, and resolves once a line matches
 * `listening on (http://...)`. The result has the base URL, the log's path and `stop()`.
 */
export function startProcess({ name, program, env, dir, timeoutMs = 30_000 }) {
  const logPath = path.join(dir, `${name}-${randomBytes(4).toString('hex')}.log`);
  const log = createWriteStream(logPath);
  const child = spawn(program, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  // 'close' comes after the exit and after the last line of output.
  const closed = new Promise((resolve) => {
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });

  const stop = async () => {
    if (child.pid !== undefined) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await closed;
      clearTimeout(timer);
    }
    if (!log.writableEnded) await new Promise((resolve) => log.end(resolve));
  };

  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = async (reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      await stop();
      reject(new Error(`${name} did not start (${reason}); log: ${logPath}`));
    };
    const timer = setTimeout(() => fail(`no address within ${timeoutMs} ms`), timeoutMs);
    child.once('error', (err) => fail(err.message));
    closed.then(({ code, signal }) => fail(`exited with ${signal ?? `status ${code}`}`));
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        if (!log.writableEnded) log.write(`${line}\n`);
        const match = /listening on (http:\/\/\S+)/.exec(line);
        if (match && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve({ baseUrl: match[1], logPath, process: child, stop });
        }
      });
    }
  });
}

/** Polls an async predicate every 50 ms until it returns a truthy value or the time is up. */
export async function waitFor(predicate, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Calls the mock providers' control API; returns the JSON answer. */
async function control(mockUrl, method, route, body) {
  const response = await fetch(`${mockUrl}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** Queues scripted replies for the mock's requests whose path contains `pathContains`. */
export const mockScript = (mockUrl, pathContains, replies) =>
  control(mockUrl, 'POST', '/_script', { path_contains: pathContains, replies });

/** Clears the mock's scripts and recorded requests. */
export const mockReset = (mockUrl) => control(mockUrl, 'POST', '/_reset');

/** Every provider request the mock received, in arrival order. */
export const mockReceived = (mockUrl) => control(mockUrl, 'GET', '/_received');

/**
 * A fresh database, the mock providers and an agent whose OpenAI upstream is the mock. Returns
 * `{agent, mockUrl, databaseUrl, logDir, stop()}`; `agent` has `baseUrl` and `logPath`.
 */
export async function startStack(agentEnv = {}) {
  const dir = logDir();
  const databaseUrl = await freshDatabase();
  const mock = await startProcess({
    name: 'mock-providers',
    program: requiredEnv('AXONFLOW_MOCK_PROVIDERS_BIN'),
    env: { PATH: process.env.PATH ?? '' },
    dir,
  });
  let agent;
  try {
    agent = await startProcess({
      name: 'agent',
      program: requiredEnv('AXONFLOW_AGENT_BIN'),
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: databaseUrl,
        PORT: '0',
        AXONFLOW_BIND_ADDRESS: '127.0.0.1',
        OPENAI_BASE_URL: `${mock.baseUrl}/v1`,
        AUDIT_FALLBACK_PATH: path.join(dir, `agent-${randomBytes(4).toString('hex')}.fallback.jsonl`),
        RUST_LOG: 'info',
        ...agentEnv,
      },
      dir,
    });
  } catch (err) {
    await mock.stop();
    throw err;
  }
  return {
    agent,
    mockUrl: mock.baseUrl,
    databaseUrl,
    logDir: dir,
    stop: async () => {
      await agent.stop();
      await mock.stop();
    },
  };
}
