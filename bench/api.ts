/**
 * Gateway overhead: requests/s and p50/p99 latency of `GET /v1/health` (and `GET /v1/plugins`
 * with the bootstrap key when that route answers 200) through the local gateway, against a bare
 * `node:http` hello server in the same process; and the authenticated list against the same
 * DynamoDB Query issued directly (what auth, routing and HTTP add; target ≤ 1.3×).
 * Loopback only, bounded by count and time.
 *
 * Run: `npx tsx bench/api.ts` (env BENCH_REQUESTS, BENCH_CONCURRENCY).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startLocalStack } from '#local/stack.ts';

export interface LatencyStats {
  target: string;
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

export interface ApiBenchResult {
  baseline: LatencyStats;
  targets: LatencyStats[];
  /** The DynamoDB Query behind `GET /v1/plugins`, issued directly (same client, same process). */
  directQuery?: LatencyStats;
  /** The authenticated `GET /v1/plugins` through the gateway. */
  authenticatedList?: LatencyStats;
  notes: string[];
}

/** Issue 17: an authenticated list costs at most this much more than its bare Query. */
export const AUTH_LIST_TARGET = 1.3;

interface RunOptions {
  requests: number;
  concurrency: number;
  maxSeconds: number;
  headers?: Record<string, string>;
}

/** One keep-alive GET that must answer 200; resolves with its latency in ms. */
function httpGet(url: string, agent: Agent, headers?: Record<string, string>): () => Promise<number> {
  return () =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const req = request(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(performance.now() - started)
            : reject(new Error(`${res.statusCode}`)),
        );
      });
      req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
}

/** Fires `requests` GETs over keep-alive with `concurrency` in flight; stops early at `maxSeconds`. */
async function measure(target: string, url: string, options: RunOptions): Promise<LatencyStats> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  try {
    return await measureOperation(target, httpGet(url, agent, options.headers), options);
  } finally {
    agent.destroy();
  }
}

/** Runs `once` (which resolves with its latency) like {@link measure} runs a GET. */
async function measureOperation(
  target: string,
  once: () => Promise<number>,
  options: RunOptions,
): Promise<LatencyStats> {
  // Warm-up: JIT, lazy handler imports, connection pool.
  for (let i = 0; i < Math.min(200, options.requests / 10); i++) await once().catch(() => undefined);

  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  const deadline = performance.now() + options.maxSeconds * 1000;
  const started = performance.now();
  const worker = async () => {
    while (issued < options.requests && performance.now() < deadline) {
      issued++;
      try {
        latencies.push(await once());
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN);
  return {
    target,
    requests: latencies.length,
    seconds: round(seconds),
    rps: Math.round(latencies.length / seconds),
    p50: at(0.5),
    p99: at(0.99),
    errors,
  };
}

/** The page size both the direct Query and the list request ask for. */
const LIST_LIMIT = 50;

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export async function runApiBench(
  options: Partial<Pick<RunOptions, 'requests' | 'concurrency' | 'maxSeconds'>> = {},
): Promise<ApiBenchResult> {
  const run: RunOptions = {
    requests: options.requests ?? Number(process.env.BENCH_REQUESTS ?? 3000),
    concurrency: options.concurrency ?? Number(process.env.BENCH_CONCURRENCY ?? 8),
    maxSeconds: options.maxSeconds ?? 20,
  };
  const notes: string[] = [];
  const dataDir = await mkdtemp(join(tmpdir(), 'pluginops-bench-'));
  const hello = createServer((_req, res) => {
    const body = '{"status":"ok"}';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => hello.listen(0, '127.0.0.1', resolve));
  const stack = await startLocalStack({ dataDir, port: 0, dynamodbPort: 0, s3Port: 0, quiet: true });
  notes.push(`stack started in ${stack.startupMs} ms`);
  try {
    const helloUrl = `http://127.0.0.1:${(hello.address() as AddressInfo).port}/`;
    const baseline = await measure('bare node:http hello', helloUrl, run);
    const targets = [await measure('GET /v1/health via gateway', `${stack.baseUrl}/v1/health`, run)];

    const auth = { authorization: `Bearer ${stack.bootstrapKey}` };
    const probe = await fetch(`${stack.baseUrl}/v1/plugins`, {
      headers: auth,
      signal: AbortSignal.timeout(5_000),
    });
    await probe.arrayBuffer();
    if (probe.status !== 200) {
      notes.push(`GET /v1/plugins answered ${probe.status}, so only /v1/health was measured`);
      return { baseline, targets, notes };
    }
    // Imported after the stack set the environment the adapters read.
    const { listPlugins } = await import('#adapters/dynamo/packages.ts');
    const directQuery = await measureOperation(
      'DynamoDB Query of GET /v1/plugins, direct',
      async () => {
        const started = performance.now();
        await listPlugins({ limit: LIST_LIMIT });
        return performance.now() - started;
      },
      run,
    );
    const authenticatedList = await measure(
      'GET /v1/plugins via gateway (auth + DynamoDB)',
      `${stack.baseUrl}/v1/plugins?limit=${LIST_LIMIT}`,
      { ...run, headers: auth },
    );
    targets.push(directQuery, authenticatedList);
    return { baseline, targets, directQuery, authenticatedList, notes };
  } finally {
    await stack.stop();
    await new Promise((resolve) => hello.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
  }
}

function report(result: ApiBenchResult): void {
  const rows = [result.baseline, ...result.targets].map((stats) => ({
    target: stats.target,
    'req/s': stats.rps,
    'p50 ms': stats.p50,
    'p99 ms': stats.p99,
    'p50 ×bare': round(stats.p50 / result.baseline.p50),
    'p99 ×bare': round(stats.p99 / result.baseline.p99),
    requests: stats.requests,
    errors: stats.errors,
  }));
  console.table(rows);
  const health = result.targets[0];
  if (health !== undefined) {
    const ratio = health.p50 / result.baseline.p50;
    console.log(
      `gateway p50 overhead on /v1/health: ${round(ratio)}× (target ≤ 2×) ${ratio <= 2 ? 'OK' : 'OVER TARGET'}`,
    );
  }
  if (result.directQuery !== undefined && result.authenticatedList !== undefined) {
    const ratio = result.authenticatedList.p50 / result.directQuery.p50;
    console.log(
      `authenticated list vs direct DynamoDB Query, p50: ${round(ratio)}× (target ≤ ${AUTH_LIST_TARGET}×) ${ratio <= AUTH_LIST_TARGET ? 'OK' : 'OVER TARGET'}`,
    );
  }
  for (const note of result.notes) console.log(`note: ${note}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runApiBench().then(report, (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
