/**
 * Gateway overhead: requests/s and p50/p99 latency of `GET /v1/health` (and `GET /v1/plugins`
 * with the bootstrap key when that route answers 200) through the local gateway, against a bare
 * `node:http` hello server in the same process; and the authenticated list against the same
 * DynamoDB Query issued directly (what auth, routing and HTTP add; target ≤ 1.3×).
 * Loopback only, bounded by count and time.
 *
 * The list is measured three ways (docs/decisions/008-api-cost.md):
 * - one request at a time — what one authenticated list costs its caller, judged against 1.3×;
 * - the same list dispatched in-process (auth, routing, middy, handler; no HTTP) — what our
 *   code adds to the Query;
 * - BENCH_CONCURRENCY (8) requests in flight — throughput on a saturated machine, printed for
 *   information: client, gateway and DynamoDB Local share the same 2 cores there, so the HTTP
 *   client's own CPU (on a caller's machine in production) is charged to the gateway.
 *
 * Each pair is warmed up, then measured in interleaved rounds (baseline and target alternate,
 * A B, B A, …) and judged by the median of the per-round p50 ratios: on a shared machine the load
 * moves between two back-to-back measurements, and one slow stretch then tilts one round, not
 * the figure.
 *
 * Run: `npx tsx bench/api.ts` (env BENCH_REQUESTS per target, BENCH_CONCURRENCY, BENCH_ROUNDS).
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

/** Two targets measured in alternating rounds, and the ratio of their p50s round by round. */
export interface Comparison {
  /** All rounds of the baseline pooled. */
  baseline: LatencyStats;
  /** All rounds of the target pooled. */
  target: LatencyStats;
  /** `target p50 / baseline p50` of each round, in round order. */
  roundRatios: number[];
  /** Median of {@link roundRatios}: the figure the target is judged by. */
  ratio: number;
}

export interface ApiBenchResult {
  baseline: LatencyStats;
  targets: LatencyStats[];
  /** `GET /v1/health` through the gateway against the bare `node:http` hello. */
  health: Comparison;
  /** The authenticated `GET /v1/plugins` through the gateway against the DynamoDB Query behind it, one at a time (judged). */
  list?: Comparison;
  /** The same list dispatched in-process (no HTTP) against the Query: what auth, routing and the handler add. */
  listInProcess?: Comparison;
  /** The list against the Query at BENCH_CONCURRENCY in flight (a saturated machine; informational). */
  listLoaded?: Comparison;
  /** Requests in flight of {@link listLoaded}. */
  loadedConcurrency?: number;
  /** The DynamoDB Query behind `GET /v1/plugins`, issued directly (same client, same process). */
  directQuery?: LatencyStats;
  /** The authenticated `GET /v1/plugins` through the gateway. */
  authenticatedList?: LatencyStats;
  rounds: number;
  notes: string[];
}

/** Issue 17: an authenticated list costs at most this much more than its bare Query. */
export const AUTH_LIST_TARGET = 1.3;

interface RunOptions {
  /** Requests per target, split evenly over the rounds. */
  requests: number;
  concurrency: number;
  /**
   * Interleaved rounds per comparison. Many short rounds (200 requests a side by default, about a
   * quarter of a second) keep both sides of a round under the same load; a load spike then spoils
   * a round or two, which the median ignores.
   */
  rounds: number;
  /** Bound on the measured part of one comparison. */
  maxSeconds: number;
}

/** One operation that resolves with its latency in ms (rejects on failure). */
type Operation = () => Promise<number>;

/** One keep-alive GET that must answer 200; resolves with its latency in ms. */
function httpGet(url: string, agent: Agent, headers?: Record<string, string>): Operation {
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

interface Sample {
  latencies: number[];
  errors: number;
  seconds: number;
}

/** Runs `count` operations with `concurrency` in flight (fewer if `deadline` passes first). */
async function sample(
  once: Operation,
  count: number,
  concurrency: number,
  deadline: number,
): Promise<Sample> {
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  const started = performance.now();
  const worker = async () => {
    while (issued < count && performance.now() < deadline) {
      issued++;
      try {
        latencies.push(await once());
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, errors, seconds: (performance.now() - started) / 1000 };
}

/**
 * Warm-up until both the JIT and the connection pools have settled: at least `minRequests`
 * operations and at least `minMs`, at the measured concurrency (so every pooled socket is open).
 */
async function warmUp(once: Operation, concurrency: number, minRequests = 400, minMs = 1_500): Promise<void> {
  const started = performance.now();
  let done = 0;
  while (done < minRequests || performance.now() - started < minMs) {
    const { latencies, errors } = await sample(once, 50, concurrency, Number.POSITIVE_INFINITY);
    done += latencies.length + errors;
    if (performance.now() - started > 30_000) break;
  }
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function stats(target: string, samples: readonly Sample[]): LatencyStats {
  const latencies = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const seconds = samples.reduce((sum, s) => sum + s.seconds, 0);
  return {
    target,
    requests: latencies.length,
    seconds: round(seconds),
    rps: Math.round(latencies.length / seconds),
    p50: round(percentile(latencies, 0.5)),
    p99: round(percentile(latencies, 0.99)),
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
  };
}

/**
 * Measures `target` against `baseline` in interleaved rounds: both are warmed up first, then each
 * round runs one slice of each, the order alternating (A B, B A, …) so a drift in machine load
 * falls on both. The ratio is taken per round (two slices measured seconds apart under the same
 * load) and the median round is reported.
 */
async function compare(
  baseline: { name: string; once: Operation },
  target: { name: string; once: Operation },
  options: RunOptions,
): Promise<Comparison> {
  await warmUp(baseline.once, options.concurrency);
  await warmUp(target.once, options.concurrency);
  const perRound = Math.max(1, Math.ceil(options.requests / options.rounds));
  const deadline = performance.now() + options.maxSeconds * 1000;
  const baseSamples: Sample[] = [];
  const targetSamples: Sample[] = [];
  const roundRatios: number[] = [];
  for (let r = 0; r < options.rounds && performance.now() < deadline; r++) {
    const order = r % 2 === 0 ? [baseline, target] : [target, baseline];
    const [first, second] = [
      await sample(order[0]!.once, perRound, options.concurrency, deadline),
      await sample(order[1]!.once, perRound, options.concurrency, deadline),
    ];
    const [base, tgt] = r % 2 === 0 ? [first, second] : [second, first];
    baseSamples.push(base);
    targetSamples.push(tgt);
    const p50 = (s: Sample) =>
      percentile(
        [...s.latencies].sort((a, b) => a - b),
        0.5,
      );
    if (base.latencies.length > 0 && tgt.latencies.length > 0) roundRatios.push(round(p50(tgt) / p50(base)));
  }
  return {
    baseline: stats(baseline.name, baseSamples),
    target: stats(target.name, targetSamples),
    roundRatios,
    ratio: round(median(roundRatios)),
  };
}

/** The page size both the direct Query and the list request ask for. */
const LIST_LIMIT = 50;

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export async function runApiBench(
  options: Partial<Pick<RunOptions, 'requests' | 'concurrency' | 'rounds' | 'maxSeconds'>> = {},
): Promise<ApiBenchResult> {
  const run: RunOptions = {
    requests: options.requests ?? Number(process.env.BENCH_REQUESTS ?? 6000),
    concurrency: options.concurrency ?? Number(process.env.BENCH_CONCURRENCY ?? 8),
    rounds: options.rounds ?? Number(process.env.BENCH_ROUNDS ?? 30),
    maxSeconds: options.maxSeconds ?? 60,
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
  // One keep-alive pool per target, as many sockets as requests in flight.
  const agents: Agent[] = [];
  const agent = () => {
    const created = new Agent({ keepAlive: true, maxSockets: run.concurrency });
    agents.push(created);
    return created;
  };
  try {
    const helloUrl = `http://127.0.0.1:${(hello.address() as AddressInfo).port}/`;
    const health = await compare(
      { name: 'bare node:http hello', once: httpGet(helloUrl, agent()) },
      { name: 'GET /v1/health via gateway', once: httpGet(`${stack.baseUrl}/v1/health`, agent()) },
      run,
    );
    const baseline = health.baseline;
    const targets = [health.target];

    const auth = { authorization: `Bearer ${stack.bootstrapKey}` };
    const probe = await fetch(`${stack.baseUrl}/v1/plugins`, {
      headers: auth,
      signal: AbortSignal.timeout(5_000),
    });
    await probe.arrayBuffer();
    if (probe.status !== 200) {
      notes.push(`GET /v1/plugins answered ${probe.status}, so only /v1/health was measured`);
      return { baseline, targets, health, rounds: run.rounds, notes };
    }
    // Imported after the stack set the environment the adapters read: the handler's own function
    // and DynamoDB client, so the baseline is exactly the Query the route issues.
    const { listPlugins } = await import('#adapters/dynamo/packages.ts');
    const { dispatchApiEvent } = await import('#api/router.ts');
    const { buildApiGatewayEvent, createLambdaContext } = await import('#local/api-event.ts');
    const direct = {
      name: 'DynamoDB Query of GET /v1/plugins, direct',
      once: async () => {
        const started = performance.now();
        await listPlugins({ limit: LIST_LIMIT });
        return performance.now() - started;
      },
    };
    const listUrl = `${stack.baseUrl}/v1/plugins?limit=${LIST_LIMIT}`;
    const inProcess = {
      name: 'GET /v1/plugins dispatched in-process (auth + routing + handler + DynamoDB)',
      once: async () => {
        const started = performance.now();
        const now = new Date();
        const event = buildApiGatewayEvent(
          {
            method: 'GET',
            url: `/v1/plugins?limit=${LIST_LIMIT}`,
            headers: { authorization: [auth.authorization] },
            body: Buffer.alloc(0),
            sourceIp: '127.0.0.1',
            protocol: 'HTTP/1.1',
            requestId: 'bench',
            domainName: 'localhost',
            now,
            localPort: stack.port,
          },
          { method: 'GET', path: '/v1/plugins' },
          {},
        );
        const context = createLambdaContext({
          awsRequestId: 'bench',
          functionName: 'pluginops-bench',
          deadline: now.getTime() + 29_000,
        });
        const result = await dispatchApiEvent(event, context);
        if (result.statusCode !== 200) throw new Error(`${result.statusCode}`);
        return performance.now() - started;
      },
    };
    const one = { ...run, concurrency: 1 };
    const list = await compare(
      direct,
      { name: 'GET /v1/plugins via gateway (auth + DynamoDB)', once: httpGet(listUrl, agent(), auth) },
      one,
    );
    const listInProcess = await compare(direct, inProcess, one);
    const listLoaded = await compare(
      { ...direct, name: `${direct.name}, ${run.concurrency} in flight` },
      {
        name: `GET /v1/plugins via gateway, ${run.concurrency} in flight`,
        once: httpGet(listUrl, agent(), auth),
      },
      run,
    );
    targets.push(list.baseline, list.target, listInProcess.target, listLoaded.baseline, listLoaded.target);
    return {
      baseline,
      targets,
      health,
      list,
      listInProcess,
      listLoaded,
      loadedConcurrency: run.concurrency,
      directQuery: list.baseline,
      authenticatedList: list.target,
      rounds: run.rounds,
      notes,
    };
  } finally {
    for (const created of agents) created.destroy();
    await stack.stop();
    await new Promise((resolve) => hello.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
  }
}

function describe(comparison: Comparison): string {
  const ratios = comparison.roundRatios;
  const pooled = round(comparison.target.p50 / comparison.baseline.p50);
  return `median of ${ratios.length} interleaved rounds ${comparison.ratio}× (rounds ${Math.min(...ratios)}–${Math.max(...ratios)}×, all rounds pooled ${pooled}×)`;
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
  const health = result.health.ratio;
  console.log(
    `gateway p50 overhead on /v1/health: ${describe(result.health)} (target ≤ 2×) ${health <= 2 ? 'OK' : 'OVER TARGET'}`,
  );
  if (result.list !== undefined) {
    const ratio = result.list.ratio;
    console.log(
      `authenticated list vs direct DynamoDB Query, one at a time, p50: ${describe(result.list)} (target ≤ ${AUTH_LIST_TARGET}×) ${ratio <= AUTH_LIST_TARGET ? 'OK' : 'OVER TARGET'}`,
    );
  }
  if (result.listInProcess !== undefined) {
    console.log(
      `  of which auth + routing + handler (in-process, no HTTP), p50: ${describe(result.listInProcess)}`,
    );
  }
  if (result.listLoaded !== undefined) {
    console.log(
      `  at ${result.loadedConcurrency} in flight on this machine (saturated; the HTTP client's CPU counts against the gateway), p50: ${describe(result.listLoaded)} (information)`,
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
