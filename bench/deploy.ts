/**
 * Deploy latency and DynamoDB cost through the local stack: `POST …/deployments` (install of a
 * fresh plugin) until `GET …/deployments/{id}` reports `succeeded`, for N plugins in sequence —
 * the whole path: API, the real ASL on the local engine, every task, DynamoDB Local, S3 server
 * and the local plugin host's probe.
 *
 * DynamoDB requests are counted with a middleware on the SDK client every repository shares
 * (`dynamoClient()`; the document client sends through the same middleware stack), at the
 * `initialize` step: one count per logical command (SDK retries are not counted twice). A
 * second, separate pass waits for each execution in process instead of polling the API, so the
 * count per deployment is exactly the API request (auth + idempotency + reservation) plus the
 * workflow, without the reads of a poller.
 *
 * Run: `npx tsx bench/deploy.ts` (env BENCH_DEPLOYS, default 30). Target: p50 < 1.5 s.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dynamoClient } from '#adapters/dynamo/client.ts';
import { startLocalStack } from '#local/stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

export interface DeployBenchResult {
  deploys: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  dynamoRequestsPerDeployment: number;
  dynamoByCommand: Record<string, number>;
  targetMet: boolean;
  requestsTargetMet: boolean;
}

const OPERATOR = `po_${'b'.repeat(43)}`;
const TARGET_P50_MS = 1500;
/** Issue 13: at most this many DynamoDB requests for one plain install, API request included. */
const TARGET_REQUESTS = 20;
/**
 * The state changes a plain install must make, each at least one write: the API's reservation and
 * deployment record; Resolve's running + frozen plan; Acquire's lease; Apply's installation +
 * revision; Release's succeeded + revision closed + lease given back. The ratio of requests to
 * these is what the bookkeeping costs on top.
 */
const STATE_CHANGES = 6;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export async function runDeployBench(
  deploys = Number(process.env.BENCH_DEPLOYS ?? 30),
): Promise<DeployBenchResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pluginops-bench-deploy-'));
  const stack = await startLocalStack({
    dataDir,
    port: 0,
    dynamodbPort: 0,
    s3Port: 0,
    bootstrapKey: OPERATOR,
    quiet: true,
  });
  const counts = new Map<string, number>();
  let counting = false;
  dynamoClient().middlewareStack.add(
    (next, context) => async (args) => {
      if (counting)
        counts.set(context.commandName ?? 'unknown', (counts.get(context.commandName ?? 'unknown') ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'benchDynamoRequestCounter' },
  );
  const api = async (method: string, path: string, key: string, body?: unknown, raw?: Buffer) => {
    const response = await fetch(new URL(path, stack.baseUrl), {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': raw === undefined ? 'application/json' : 'application/octet-stream',
      },
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as any };
  };
  try {
    const tenant = 'bench';
    await api('POST', '/v1/tenants', OPERATOR, { tenant_id: tenant });
    const key = (
      await api('POST', `/v1/tenants/${tenant}/keys`, OPERATOR, { scopes: ['read', 'deploy:write'] })
    ).body.key;
    const publish = async (name: string) => {
      const bytes = await buildPackage({ manifest: { author: 'bench', name, version: '1.0.0' } as never });
      return (await api('POST', '/v1/packages:raw', OPERATOR, undefined, bytes)).body
        .unique_identifier as string;
    };

    // Warm-up: the first deployment loads every handler module.
    const warm = await api('POST', `/v1/tenants/${tenant}/deployments`, key, {
      operation: 'install',
      unique_identifier: await publish('warm'),
    });
    await stack.workflows.waitForExecution(warm.body.deployment_id, 30_000);

    // Pass 1: latency as a client sees it (POST, then poll every 25 ms).
    const latencies: number[] = [];
    for (let i = 0; i < deploys; i++) {
      const uid = await publish(`lat${i}`);
      const started = performance.now();
      const created = await api('POST', `/v1/tenants/${tenant}/deployments`, key, {
        operation: 'install',
        unique_identifier: uid,
      });
      if (created.status !== 202)
        throw new Error(`deploy answered ${created.status}: ${JSON.stringify(created.body)}`);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const current = await api(
          'GET',
          `/v1/tenants/${tenant}/deployments/${created.body.deployment_id}`,
          key,
        );
        if (current.body.status === 'succeeded') break;
        if (['failed', 'rolled_back', 'rejected'].includes(current.body.status) || Date.now() > deadline) {
          throw new Error(`deployment ended ${current.body.status}: ${JSON.stringify(current.body.error)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      latencies.push(performance.now() - started);
    }

    // Pass 2: DynamoDB requests per deployment, no poller.
    const countRuns = Math.min(10, deploys);
    for (let i = 0; i < countRuns; i++) {
      const uid = await publish(`cnt${i}`);
      counting = true;
      const created = await api('POST', `/v1/tenants/${tenant}/deployments`, key, {
        operation: 'install',
        unique_identifier: uid,
      });
      const done = await stack.workflows.waitForExecution(created.body.deployment_id, 30_000);
      counting = false;
      if (done.status !== 'SUCCEEDED') throw new Error(`execution ended ${done.status}`);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
    const byCommand = Object.fromEntries(
      [...counts.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, n]) => [name, Number((n / countRuns).toFixed(1))]),
    );
    const p50 = percentile(sorted, 50);
    return {
      deploys,
      p50Ms: Math.round(p50),
      p95Ms: Math.round(percentile(sorted, 95)),
      maxMs: Math.round(sorted[sorted.length - 1] ?? Number.NaN),
      dynamoRequestsPerDeployment: Number((total / countRuns).toFixed(1)),
      dynamoByCommand: byCommand,
      targetMet: p50 < TARGET_P50_MS,
      requestsTargetMet: total / countRuns <= TARGET_REQUESTS,
    };
  } finally {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runDeployBench().then(
    (result) => {
      console.log(
        `deploy: ${result.deploys} sequential installs through the local stack (API → ASL → tasks → host probe)`,
      );
      console.log(
        `  latency p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, max ${result.maxMs} ms — target p50 < ${TARGET_P50_MS} ms: ${result.targetMet ? 'met' : 'NOT met'}`,
      );
      console.log(
        `  DynamoDB requests per deployment: ${result.dynamoRequestsPerDeployment} (SDK middleware count, no poller) — ${(result.dynamoRequestsPerDeployment / STATE_CHANGES).toFixed(2)}× its ${STATE_CHANGES} state changes — target ≤ ${TARGET_REQUESTS}: ${result.requestsTargetMet ? 'met' : 'NOT met'}`,
      );
      console.log(`  by command: ${JSON.stringify(result.dynamoByCommand)}`);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
