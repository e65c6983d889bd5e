/**
 * Shared by the reliability suites: a private local stack in the test process (so the engine's
 * fault injection, the AWS SDK clients the handlers use and the events file are all reachable),
 * small API helpers, per-deployment fault arming, adapter faults as SDK middleware, and the
 * invariant checker every suite ends with.
 *
 * The invariant checker returns violations instead of throwing: the suites count them (the
 * reported "inconsistencies") and then assert there are none, so one run shows every break.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { InitializeHandlerArguments, InitializeMiddleware, MetadataBearer } from '@smithy/types';
import { documentClientInstance } from '#adapters/dynamo/client.ts';
import { listDeployments } from '#adapters/dynamo/deployments.ts';
import { findInstallation, listRevisions, type StoredRevision } from '#adapters/dynamo/installations.ts';
import { keys } from '#adapters/dynamo/keys.ts';
import { runtimeHost } from '#adapters/runtime-host.ts';
import { FINAL_STATUSES } from '#core/deploy/model.ts';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '#local/stack.ts';
import type { FaultSpec } from '#local/workflows.ts';
import { type ApiResponse, createApiClient, eventually } from '#test/support/api-client.ts';
import { sharedEngineOptions } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

/**
 * DynamoDB Local syncs every write to its SQLite file; on a disk-backed /tmp that, not the code
 * under test, bounds throughput. A tmpfs (/dev/shm on Linux) keeps the suites fast; the data
 * still survives a restart of the stack, which is all the restart suite needs.
 */
export function fastTempDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export const OPERATOR = `po_${'r'.repeat(43)}`;
export type Call = ReturnType<typeof createApiClient>;

export interface Harness {
  stack: LocalStack;
  call: Call;
  eventsFile: string;
  dataDir: string;
}

/**
 * A private stack; retry waits scaled down so backoff paths take milliseconds. Probes time out
 * after `probeTimeoutMs` (default 1.5 s, as on the shared stack), so the host's `timeout` fault costs
 * 1.5 s per attempt instead of the 5 s default; a healthy local probe answers in milliseconds.
 */
export async function startHarness(
  options: Partial<LocalStackOptions> & { probeTimeoutMs?: number } = {},
): Promise<Harness> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(fastTempDir(), 'pluginops-rel-')));
  const eventsFile = join(dataDir, 'events.jsonl');
  process.env.PLUGINOPS_EVENTS_FILE = eventsFile;
  process.env.PLUGINOPS_RUNTIME_PROBE_TIMEOUT_MS = String(options.probeTimeoutMs ?? 1_500);
  process.env.PLUGINOPS_SCHEDULER = 'off';
  // A stack given a DynamoDB port of its own (0: any) starts its own engine — the restart suite
  // restarts the engine too, the soak keeps its load to itself; the others share the run's.
  const engine =
    options.dynamodbPort === undefined ? sharedEngineOptions() : { dynamodbPort: options.dynamodbPort };
  const stack = await startLocalStack({
    port: 0,
    ...engine,
    s3Port: 0,
    bootstrapKey: OPERATOR,
    quiet: true,
    workflows: { timeScale: 0.01 },
    ...options,
    dataDir,
  });
  return { stack, call: createApiClient(stack.baseUrl), eventsFile, dataDir };
}

// ── tenants, packages, deployments ──────────────────────────────────────────────────────────────

export interface Tenant {
  id: string;
  deployer: string;
  admin: string;
}

function expectStatus(response: ApiResponse, expected: number[], what: string): void {
  if (!expected.includes(response.status)) {
    throw new Error(`${what}: HTTP ${response.status} ${response.text.slice(0, 300)}`);
  }
}

export async function createTenant(
  call: Call,
  id: string,
  policy: Record<string, unknown> = {},
): Promise<Tenant> {
  expectStatus(
    await call('POST', '/v1/tenants', { key: OPERATOR, json: { tenant_id: id } }),
    [201],
    'tenant',
  );
  const issue = async (scopes: string[]) => {
    const response = await call('POST', `/v1/tenants/${id}/keys`, { key: OPERATOR, json: { scopes } });
    expectStatus(response, [201], 'key');
    return response.body.key as string;
  };
  const tenant = { id, deployer: await issue(['read', 'deploy:write']), admin: await issue(['admin']) };
  if (Object.keys(policy).length > 0) {
    const response = await call('PUT', `/v1/tenants/${id}/policy`, { key: tenant.admin, json: policy });
    expectStatus(response, [200], 'policy');
  }
  return tenant;
}

export interface Published {
  unique_identifier: string;
  plugin_id: string;
  version: string;
}

export async function publish(call: Call, author: string, name: string, version: string): Promise<Published> {
  const body = await buildPackage({
    manifest: { author, name, version, meta: { version } } as never,
  });
  const response = await call('POST', '/v1/packages:raw', {
    key: OPERATOR,
    body,
    headers: { 'content-type': 'application/octet-stream' },
  });
  expectStatus(response, [200, 201], 'publish');
  return { unique_identifier: response.body.unique_identifier, plugin_id: `${author}/${name}`, version };
}

export function deploy(call: Call, tenant: Tenant, body: Record<string, unknown>): Promise<ApiResponse> {
  return call('POST', `/v1/tenants/${tenant.id}/deployments`, { key: tenant.deployer, json: body });
}

export async function deploymentOf(call: Call, tenant: Tenant, deploymentId: string) {
  const response = await call('GET', `/v1/tenants/${tenant.id}/deployments/${deploymentId}`, {
    key: tenant.deployer,
  });
  expectStatus(response, [200], 'deployment');
  return response.body as Record<string, any>;
}

/**
 * Waits for the deployment's execution to end and returns the deployment as stored. With a
 * `decision`, answers the approval on the way (polling the API; without one, nothing is read
 * until the end, so adapter-fault cases count only the deployment's own calls).
 */
export async function settle(
  h: Harness,
  tenant: Tenant,
  deploymentId: string,
  decision?: 'approve' | 'reject',
  timeoutMs = 30_000,
): Promise<Record<string, any>> {
  await waitEnded(h, tenant, deploymentId, decision, timeoutMs);
  return deploymentOf(h.call, tenant, deploymentId);
}

export async function waitEnded(
  h: Harness,
  tenant: Tenant,
  deploymentId: string,
  decision?: 'approve' | 'reject',
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (decision !== undefined) {
    const execution = h.stack.workflows.describeExecution(deploymentId);
    if (execution !== undefined && execution.status !== 'RUNNING') break;
    const current = await deploymentOf(h.call, tenant, deploymentId);
    if (current.status === 'awaiting_approval') {
      const response = await h.call(
        'POST',
        `/v1/tenants/${tenant.id}/deployments/${deploymentId}/${decision}`,
        { key: tenant.admin, json: {} },
      );
      expectStatus(response, [200], decision);
      break;
    }
    if (Date.now() > deadline) throw new Error(`deployment ${deploymentId} never awaited approval`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await h.stack.workflows.waitForExecution(deploymentId, Math.max(1, deadline - Date.now()));
}

/** Starts a deployment (retrying a refused start a few times) and waits for it to end. */
export async function deployAndSettle(
  h: Harness,
  tenant: Tenant,
  body: Record<string, unknown>,
  decision?: 'approve' | 'reject',
): Promise<Record<string, any>> {
  const response = await eventually(async () => {
    const started = await deploy(h.call, tenant, body);
    return started.status === 202 ? started : undefined;
  }, 10_000);
  return settle(h, tenant, response.body.deployment_id, decision);
}

// ── faults ──────────────────────────────────────────────────────────────────────────────────────

/**
 * Arms engine faults for the next deploy execution of a tenant only. The deployment id (the
 * execution name) is made inside the API, so the faults are attached when the execution starts;
 * other tenants' executions running at the same time are never hit.
 */
export function armFaultsByTenant(stack: LocalStack) {
  const pending = new Map<string, Array<Omit<FaultSpec, 'machine' | 'execution'>>>();
  const armed = new Map<string, Array<ReturnType<LocalStack['workflows']['injectFault']>>>();
  const engine = stack.workflows;
  const original = engine.startExecution.bind(engine);
  engine.startExecution = async (machine, name, input) => {
    const tenantId = (input as { tenant_id?: string }).tenant_id;
    const specs = tenantId === undefined ? undefined : pending.get(tenantId);
    if (machine === 'deploy' && tenantId !== undefined && specs !== undefined) {
      pending.delete(tenantId);
      armed.set(
        tenantId,
        specs.map((spec) => engine.injectFault({ ...spec, machine: 'deploy', execution: name })),
      );
    }
    return original(machine, name, input);
  };
  return {
    arm(tenantId: string, specs: Array<Omit<FaultSpec, 'machine' | 'execution'>>): void {
      pending.set(tenantId, specs);
    },
    /** How often each armed fault hit; removes them. */
    disarm(tenantId: string): number[] {
      pending.delete(tenantId);
      const faults = armed.get(tenantId) ?? [];
      armed.delete(tenantId);
      for (const fault of faults) fault.remove();
      return faults.map((fault) => fault.fired);
    },
    restore(): void {
      engine.startExecution = original;
    },
  };
}

export type AdapterFaultKind = 'throttle' | 'server-error' | 'conditional';

interface MiddlewareClient {
  middlewareStack: {
    add(middleware: InitializeMiddleware<any, MetadataBearer>, options: Record<string, unknown>): void;
    remove(name: string): boolean;
  };
}

/** The error a real service answer of that kind turns into in the SDK. */
export function adapterError(kind: AdapterFaultKind, service: 'dynamodb' | 's3'): Error {
  const error = new Error(`injected ${kind} (reliability suite)`) as Error & Record<string, unknown>;
  if (kind === 'throttle') {
    error.name = service === 'dynamodb' ? 'ProvisionedThroughputExceededException' : 'SlowDown';
    error.$metadata = { httpStatusCode: service === 'dynamodb' ? 400 : 503 };
    error.$fault = 'client';
  } else if (kind === 'server-error') {
    error.name = service === 'dynamodb' ? 'InternalServerError' : 'InternalError';
    error.$metadata = { httpStatusCode: 500 };
    error.$fault = 'server';
  }
  return error;
}

/**
 * Fails chosen calls of a shared SDK client: `select` sees every call (command name + input as
 * JSON) and returns the error to throw, or undefined to let it through. The middleware sits at
 * the top of the stack, before the SDK's own retries, so each injected failure reaches our code.
 */
export function addAdapterFault(
  client: MiddlewareClient,
  name: string,
  select: (commandName: string, input: string) => Error | undefined,
): () => void {
  const middleware: InitializeMiddleware<any, MetadataBearer> =
    (next, context) => async (args: InitializeHandlerArguments<any>) => {
      const error = select(String(context.commandName), JSON.stringify(args.input ?? {}));
      if (error !== undefined) throw error;
      return next(args);
    };
  client.middlewareStack.add(middleware, { step: 'initialize', priority: 'high', name });
  return () => {
    client.middlewareStack.remove(name);
  };
}

export async function hostFault(h: Harness, fault: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${h.stack.runtimeUrl}/admin/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  if (response.status !== 201) throw new Error(`host fault refused: ${response.status}`);
}

export async function clearHostFaults(h: Harness, tenantId: string): Promise<void> {
  await fetch(`${h.stack.runtimeUrl}/admin/faults?tenant_id=${tenantId}`, { method: 'DELETE' });
}

/** Makes the plugin's lease look expired, as if its holder had crashed long ago (takeover path). */
export async function ageLease(stack: LocalStack, tenantId: string, pluginId: string): Promise<boolean> {
  try {
    await documentClientInstance().send(
      new UpdateCommand({
        TableName: stack.mainTable,
        Key: keys.installation(tenantId, pluginId),
        UpdateExpression: 'SET #lock.expires_at = :past',
        ConditionExpression: 'attribute_exists(#lock)',
        ExpressionAttributeNames: { '#lock': 'lock' },
        ExpressionAttributeValues: { ':past': '2000-01-01T00:00:00.000Z' },
      }),
    );
    return true;
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}

// ── events ──────────────────────────────────────────────────────────────────────────────────────

export interface DomainEvent {
  'detail-type': string;
  detail: Record<string, any>;
}

export async function readEvents(h: Harness): Promise<DomainEvent[]> {
  // Events reach the file through the outbox relay: wait until it has caught up.
  await h.stack.outbox.drained();
  const text = await readFile(h.eventsFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as DomainEvent);
}

// ── invariants ──────────────────────────────────────────────────────────────────────────────────

export interface PluginCheck {
  /** Identifiers the plugin may be at ("fully old or fully new"); omitted: any. */
  allowed?: ReadonlyArray<string | null>;
  /** After recovery: no lease, desired state and host agree, every deployment final. */
  settled: boolean;
}

/**
 * Every invariant of one tenant × plugin, as a list of what is broken (empty: consistent):
 * - the revisions are 1..n without gaps or duplicates;
 * - the installation is at revision n with the identifier of revision n (one transaction wrote both);
 * - the identifier is one of `allowed`;
 * - settled: no lease, the latest revision's outcome is closed, the runtime desired state lists
 *   exactly that identifier (or nothing) and the host probe confirms it.
 */
export async function checkPlugin(
  tenantId: string,
  pluginId: string,
  check: PluginCheck,
): Promise<{ violations: string[]; uniqueIdentifier: string | null | undefined }> {
  const where = `${tenantId} ${pluginId}`;
  const violations: string[] = [];
  const revisions: StoredRevision[] = [];
  let cursor: string | undefined;
  do {
    const page = await listRevisions(tenantId, pluginId, { limit: 100, cursor });
    revisions.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  const numbers = revisions.map((revision) => revision.revision).sort((a, b) => a - b);
  if (!numbers.every((number, index) => number === index + 1)) {
    violations.push(`${where}: revisions not contiguous: ${numbers.join(',')}`);
  }
  const latest = revisions.find((revision) => revision.revision === numbers.length);
  const installation = await findInstallation(tenantId, pluginId);
  const uid = installation?.unique_identifier ?? null;
  if (installation !== undefined && installation.revision !== numbers.length) {
    violations.push(
      `${where}: installation at revision ${installation.revision}, history has ${numbers.length}`,
    );
  }
  if ((latest?.unique_identifier ?? null) !== uid) {
    violations.push(`${where}: installation runs ${uid}, latest revision says ${latest?.unique_identifier}`);
  }
  if (installation !== undefined && (installation.status === 'installed') !== (uid !== null)) {
    violations.push(`${where}: status ${installation.status} with identifier ${uid}`);
  }
  if (check.allowed !== undefined && !check.allowed.includes(uid)) {
    violations.push(`${where}: at ${uid}, neither old nor new (${check.allowed.join(' | ')})`);
  }
  if (check.settled) {
    if (installation?.lock !== undefined) {
      violations.push(`${where}: lease still held by ${installation.lock.deployment_id}`);
    }
    if (latest?.outcome === 'pending') violations.push(`${where}: revision ${latest.revision} still pending`);
    const desired = await runtimeHost().readDesiredState(tenantId);
    const wanted =
      desired?.plugins.find((plugin) => plugin.plugin_id === pluginId)?.unique_identifier ?? null;
    if (wanted !== uid) violations.push(`${where}: desired state asks for ${wanted}, installation is ${uid}`);
    const probe = await runtimeHost().probe(tenantId, pluginId, uid, { timeoutMs: 5_000 });
    if (!probe.ok) violations.push(`${where}: host probe disagrees: ${probe.detail}`);
  }
  return { violations, uniqueIdentifier: installation === undefined ? undefined : uid };
}

/**
 * Tenant-wide, after recovery: every deployment is final, and every failed or rolled-back one
 * produced a failure event.
 */
export async function checkDeployments(h: Harness, tenantId: string): Promise<string[]> {
  const violations: string[] = [];
  const events = await readEvents(h);
  const failureEvents = new Set(
    events
      .filter((event) => ['Deployment Failed', 'Deployment Rolled Back'].includes(event['detail-type']))
      .map((event) => event.detail.deployment_id as string),
  );
  let cursor: string | undefined;
  do {
    const page = await listDeployments(tenantId, { limit: 100, cursor });
    for (const deployment of page.items) {
      if (!FINAL_STATUSES.has(deployment.status)) {
        violations.push(`${tenantId}: deployment ${deployment.deployment_id} left ${deployment.status}`);
      }
      if (
        (deployment.status === 'failed' || deployment.status === 'rolled_back') &&
        !failureEvents.has(deployment.deployment_id)
      ) {
        violations.push(
          `${tenantId}: deployment ${deployment.deployment_id} ${deployment.status} without an event`,
        );
      }
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return violations;
}

/** Runs `work` over `items` with at most `limit` at a time. */
export async function pool<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (;;) {
        const index = next++;
        if (index >= items.length) return;
        results[index] = await work(items[index] as T, index);
      }
    }),
  );
  return results;
}
