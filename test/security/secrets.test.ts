/**
 * Secrets never leak (docs/design.md#security, issue 10): a private local stack in this process at DEBUG log
 * level runs a workload that issues API keys and deploys with a secret-looking plugin config,
 * while every write to stdout/stderr (Powertools logs, gateway request lines, console) is captured.
 * Then the logs, the events file, every response, both DynamoDB tables and every file under the
 * data dir are scanned: no issued API key and no config value may appear (key ids may).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '#local/stack.ts';
import { createApiClient, eventually } from '#test/support/api-client.ts';
import { LOCAL_CREDENTIALS, sharedEngineOptions } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const OPERATOR = `po_${'s'.repeat(43)}`;
const FINAL = new Set(['succeeded', 'failed', 'rolled_back', 'rejected']);
const run = randomBytes(3).toString('hex');
const tenant = `vault-${run}`;
/** Values a plugin config would carry; none may be visible anywhere but inside the sealed blob. */
const SECRET_VALUES = [
  `sk-live-${randomBytes(18).toString('hex')}`,
  `hunter2-${randomBytes(12).toString('base64url')}`,
];

let stack: LocalStack;
let dataDir: string;
let call: ReturnType<typeof createApiClient>;
const captured: string[] = [];
const responses: string[] = [];
const issuedKeys: string[] = [];
const keyIds: string[] = [];
let restoreOutput: (() => void) | undefined;

/** Captures everything written to stdout/stderr (and console, which vitest intercepts) until restored. */
function captureOutput(): () => void {
  const originals = {
    stdout: process.stdout.write.bind(process.stdout),
    stderr: process.stderr.write.bind(process.stderr),
  };
  const wrap =
    (original: typeof process.stdout.write) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = wrap(originals.stdout) as typeof process.stdout.write;
  process.stderr.write = wrap(originals.stderr) as typeof process.stderr.write;
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const consoleOriginals = methods.map((name) => [name, console[name]] as const);
  for (const name of methods) {
    const original = console[name];
    console[name] = (...args: unknown[]) => {
      captured.push(args.map((arg) => (typeof arg === 'string' ? arg : safeJson(arg))).join(' '));
      original(...args);
    };
  }
  return () => {
    process.stdout.write = originals.stdout;
    process.stderr.write = originals.stderr;
    for (const [name, original] of consoleOriginals) console[name] = original;
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

async function recorded(method: string, path: string, options: Parameters<typeof call>[2] = {}) {
  const response = await call(method, path, options);
  responses.push(
    // The request path is ours (one case puts a key in the query on purpose); record the route only.
    `${method} ${path.split('?')[0]} ${response.status} ${JSON.stringify([...response.headers])} ${response.text}`,
  );
  return response;
}

async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pluginops-secrets-'));
  // Before any handler module loads: the Powertools logger reads its level once.
  process.env.PLUGINOPS_LOG_LEVEL = 'DEBUG';
  process.env.PLUGINOPS_EVENTS_FILE = join(dataDir, 'events.jsonl');
  restoreOutput = captureOutput();
  const { startLocalStack } = await import('#local/stack.ts');
  stack = await startLocalStack({
    dataDir,
    ...sharedEngineOptions(),
    port: 0,
    s3Port: 0,
    bootstrapKey: OPERATOR,
    quiet: false,
    workflows: { timeScale: 0.01 },
  });
  call = createApiClient(stack.baseUrl);

  // ── the workload ──
  expect((await recorded('POST', '/v1/tenants', { key: OPERATOR, json: { tenant_id: tenant } })).status).toBe(
    201,
  );
  const issue = async (scopes: string[], idempotencyKey?: string) => {
    const response = await recorded('POST', `/v1/tenants/${tenant}/keys`, {
      key: OPERATOR,
      json: { scopes, description: 'security suite' },
      headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
    });
    expect(response.status).toBe(201);
    issuedKeys.push(response.body.key);
    keyIds.push(response.body.key_id);
    return response.body as { key: string; key_id: string };
  };
  const admin = await issue(['admin'], `keys-${run}`);
  const deployer = await issue(['read', 'packages:write', 'deploy:write']);
  const doomed = await issue(['read']);
  // Tenant keys publish only under authors granted to their tenant (docs/security.md).
  expect((await recorded('PUT', `/v1/authors/v${run}/tenants/${tenant}`, { key: OPERATOR })).status).toBe(
    200,
  );

  const published = await recorded('POST', '/v1/packages:raw', {
    key: deployer.key,
    body: await buildPackage({ manifest: { author: `v${run}`, name: 'vaulted' } }),
    headers: { 'content-type': 'application/octet-stream' },
  });
  expect(published.status).toBe(201);
  const config = { api_key: SECRET_VALUES[0], nested: { password: SECRET_VALUES[1] } };
  const deployment = await recorded('POST', `/v1/tenants/${tenant}/deployments`, {
    key: deployer.key,
    json: { operation: 'install', unique_identifier: published.body.unique_identifier, config },
    headers: { 'idempotency-key': `deploy-${run}` },
  });
  expect(deployment.status).toBe(202);
  const id = deployment.body.deployment_id as string;
  const final = await eventually(async () => {
    const response = await recorded('GET', `/v1/tenants/${tenant}/deployments/${id}`, { key: deployer.key });
    return FINAL.has(response.body.status) ? response.body : undefined;
  }, 60_000);
  expect(final.status).toBe('succeeded');
  await recorded('GET', `/v1/tenants/${tenant}/installations`, { key: deployer.key });
  await recorded('GET', `/v1/tenants/${tenant}/installations/v${run}/vaulted/revisions`, {
    key: deployer.key,
  });
  await recorded('GET', `/v1/tenants/${tenant}/deployments`, { key: admin.key });

  // Failures are where secrets like to leak: echoed bodies, logged headers, error details.
  const invalid = await recorded('POST', `/v1/tenants/${tenant}/deployments`, {
    key: deployer.key,
    json: {
      operation: 'install',
      unique_identifier: published.body.unique_identifier,
      config,
      to_revision: 1,
    },
  });
  expect(invalid.status).toBe(400);
  const unknownPlugin = await recorded('POST', `/v1/tenants/${tenant}/deployments`, {
    key: deployer.key,
    json: { operation: 'install', unique_identifier: `x/y:1.0.0@${'0'.repeat(64)}`, config },
  });
  expect(unknownPlugin.status).toBeGreaterThanOrEqual(400);
  expect(
    (await recorded('GET', `/v1/tenants/${tenant}?api_key=${deployer.key}`, { key: admin.key })).status,
  ).toBeLessThan(500);
  expect(
    (await recorded('GET', `/v1/tenants/${tenant}`, { headers: { authorization: `Basic ${deployer.key}` } }))
      .status,
  ).toBe(401);
  expect((await recorded('GET', `/v1/tenants/other-${run}`, { key: deployer.key })).status).toBe(404);
  expect(
    (await recorded('DELETE', `/v1/tenants/${tenant}/keys/${doomed.key_id}`, { key: admin.key })).status,
  ).toBe(204);
  expect((await recorded('GET', `/v1/tenants/${tenant}`, { key: doomed.key })).status).toBe(401);
  await stack.dropIdle();
}, 180_000);

afterAll(async () => {
  restoreOutput?.();
  await stack?.stop();
  delete process.env.PLUGINOPS_EVENTS_FILE;
  delete process.env.PLUGINOPS_LOG_LEVEL;
  await rm(dataDir, { recursive: true, force: true });
});

function expectAbsent(haystack: string, where: string, needles: string[]): void {
  for (const needle of needles) {
    expect(haystack.includes(needle), `${where} contains a secret (${needle.slice(0, 6)}…)`).toBe(false);
  }
}

describe('secrets never leak', () => {
  it('the workload really ran and was captured at DEBUG', () => {
    expect(issuedKeys).toHaveLength(3);
    const logs = captured.join('');
    // Request lines and handler logs were captured, with key ids but no keys.
    expect(logs).toContain('"msg":"request"');
    expect(logs).toContain('"level":"');
    expect(captured.length).toBeGreaterThan(10);
  });

  it('no API key and no config value in the captured logs', () => {
    expectAbsent(captured.join('\n'), 'logs', [...issuedKeys, OPERATOR, ...SECRET_VALUES]);
  });

  it('no API key and no config value in the events', async () => {
    await stack.outbox.drained();
    const events = await readFile(join(dataDir, 'events.jsonl'), 'utf8');
    expect(events).toContain(tenant);
    expectAbsent(events, 'events.jsonl', [...issuedKeys, OPERATOR, ...SECRET_VALUES]);
  });

  it('responses show each key once, at issue time, and never a config value', () => {
    const all = responses.join('\n');
    expectAbsent(all, 'responses', SECRET_VALUES);
    for (const key of issuedKeys) {
      const shown = responses.filter((response) => response.includes(key));
      expect(shown).toHaveLength(1);
      expect(shown[0]).toMatch(/^POST \/v1\/tenants\/[^/]+\/keys 201/);
    }
    expectAbsent(all, 'responses', [OPERATOR]);
  });

  it('nothing stored in DynamoDB holds a key or a config value in clear', async () => {
    const db = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: stack.dynamodbEndpoint,
        region: 'us-east-1',
        credentials: LOCAL_CREDENTIALS,
      }),
    );
    for (const table of [stack.mainTable, stack.idempotencyTable]) {
      const items: unknown[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await db.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
      } while (start !== undefined);
      expect(items.length).toBeGreaterThan(0);
      expectAbsent(JSON.stringify(items), `table ${table}`, [...issuedKeys, OPERATOR, ...SECRET_VALUES]);
    }
    // Key ids are fine to store and show.
    const main = await db.send(new ScanCommand({ TableName: stack.mainTable }));
    expect(JSON.stringify(main.Items)).toContain(keyIds[0]);
  });

  it('no file under the data dir (S3 objects, DynamoDB files) holds a key or a config value', async () => {
    for (const file of await filesUnder(dataDir)) {
      const bytes = await readFile(file);
      for (const needle of [...issuedKeys, ...SECRET_VALUES]) {
        expect(bytes.includes(needle), `${file} contains a secret (${needle.slice(0, 6)}…)`).toBe(false);
      }
    }
  });
});
