/**
 * Sweep cost: DynamoDB requests and wall time of one sweep (the real `sweep.asl.json` on the local
 * engine, started through `runSweep` as `POST /v1/sweeps` does) must grow with the tenants that
 * are due, not with all tenants. Settings items for 1,000 and then 10,000 tenants are batch-written
 * into DynamoDB Local; two slots hold 10 and 100 due tenants; everybody else is indexed elsewhere.
 * Requests are counted with a middleware on the handlers' DynamoDB client; the baseline is one
 * slot Query measured in the same run.
 *
 * Run: `npx tsx bench/sweep.ts` (env BENCH_SWEEP_TOTAL to change the large total).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClientInstance, dynamoClient, mainTableName } from '#adapters/dynamo/client.ts';
import { keys } from '#adapters/dynamo/keys.ts';
import { slotOf, WINDOW_MS } from '#core/auto-upgrade/schedule.ts';
import { defaultAutoUpgradeSettings, SLOTS_PER_DAY } from '#core/auto-upgrade/settings.ts';
import { startLocalStack } from '#local/stack.ts';
import { runSweep } from '#services/sweep-run.ts';

const DAY_MS = 86_400_000;
/** A fixed day far from now, so nothing else is due in it. */
const DAY = Date.parse('2031-05-05T00:00:00Z');
const SLOT_SMALL = 40; // 10:00 UTC
const SLOT_LARGE = 60; // 15:00 UTC
const WRITE_CONCURRENCY = 8;

export interface SweepMeasurement {
  total: number;
  due: number;
  requests: number;
  ms: number;
  summary: { checked: number; due: number; upgraded: number };
}

export interface SweepBenchResult {
  baselineQueryMs: number;
  baselineRequests: number;
  writeSeconds: number;
  measurements: SweepMeasurement[];
  verdicts: string[];
}

let requests = 0;

function settingsItem(tenantId: string, slot: number, nextRunAt: number) {
  const settings = {
    ...defaultAutoUpgradeSettings(tenantId),
    upgrade_time_of_day: (slot % SLOTS_PER_DAY) * 900,
  };
  return {
    ...keys.autoUpgrade(tenantId),
    ...keys.autoUpgradeSlotIndex(slot, tenantId),
    type: 'auto_upgrade',
    tenant_id: tenantId,
    settings,
    next_run_at: new Date(nextRunAt).toISOString(),
    slot,
    revision: 1,
    updated_at: new Date().toISOString(),
  };
}

/** BatchWrite in 25s, a few in flight, re-sending unprocessed items. */
async function putAll(items: Record<string, unknown>[]): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++] as Record<string, unknown>[];
      let pending = batch.map((Item) => ({ PutRequest: { Item } }));
      for (let round = 0; pending.length > 0; round += 1) {
        if (round === 8) throw new Error('BatchWrite kept returning unprocessed items');
        const result = await documentClientInstance().send(
          new BatchWriteCommand({ RequestItems: { [mainTableName()]: pending } }),
        );
        pending = (result.UnprocessedItems?.[mainTableName()] ?? []) as typeof pending;
      }
    }
  };
  await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, worker));
}

/** Background tenants: indexed in every slot except the two measured ones, due tomorrow or later. */
function background(from: number, count: number) {
  const items = [];
  for (let i = from; i < from + count; i += 1) {
    let slot = i % SLOTS_PER_DAY;
    if (slot === SLOT_SMALL || slot === SLOT_LARGE) slot = (slot + 1) % SLOTS_PER_DAY;
    items.push(settingsItem(`bg-${i}`, slot, DAY + slot * WINDOW_MS));
  }
  return items;
}

async function measure(total: number, due: number, slot: number, day: number): Promise<SweepMeasurement> {
  const at = new Date(DAY + day * DAY_MS + slot * WINDOW_MS + WINDOW_MS);
  if (slotOf(at.getTime() - WINDOW_MS) !== slot) throw new Error('bench: slot arithmetic');
  const before = requests;
  const started = performance.now();
  const result = await runSweep(at, new Date(), 120_000);
  const ms = performance.now() - started;
  if (result.status !== 'succeeded') throw new Error(`bench: sweep ${result.execution} ${result.status}`);
  return {
    total,
    due,
    requests: requests - before,
    ms: Math.round(ms),
    summary: { checked: result.summary.checked, due: result.summary.due, upgraded: result.summary.upgraded },
  };
}

export async function runSweepBench(): Promise<SweepBenchResult> {
  process.env.PLUGINOPS_SCHEDULER = 'off';
  const largeTotal = Number(process.env.BENCH_SWEEP_TOTAL ?? 10_000);
  const dataDir = await mkdtemp(join(tmpdir(), 'pluginops-bench-sweep-'));
  const stack = await startLocalStack({ dataDir, port: 0, dynamodbPort: 0, s3Port: 0, quiet: true });
  try {
    dynamoClient().middlewareStack.add(
      (next) => async (args) => {
        requests += 1;
        return next(args);
      },
      { step: 'initialize', name: 'benchRequestCounter' },
    );
    const dueSmall = Array.from({ length: 10 }, (_, i) =>
      settingsItem(`due10-${i}`, SLOT_SMALL, DAY + SLOT_SMALL * WINDOW_MS),
    );
    const dueLarge = Array.from({ length: 100 }, (_, i) =>
      settingsItem(`due100-${i}`, SLOT_LARGE, DAY + SLOT_LARGE * WINDOW_MS),
    );
    const writeStarted = performance.now();
    const smallBackground = 1_000 - dueSmall.length - dueLarge.length;
    await putAll([...dueSmall, ...dueLarge, ...background(0, smallBackground)]);

    // Baseline: one Query of a slot partition (10 items), same client, same run (median of 7).
    const query = () =>
      documentClientInstance().send(
        new QueryCommand({
          TableName: mainTableName(),
          IndexName: 'GSI2',
          KeyConditionExpression: 'GSI2PK = :pk',
          ExpressionAttributeValues: { ':pk': keys.autoUpgradeSlotPartition(SLOT_SMALL).GSI2PK },
        }),
      );
    await query();
    const beforeQuery = requests;
    const timings: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const queryStarted = performance.now();
      await query();
      timings.push(performance.now() - queryStarted);
    }
    const baselineRequests = (requests - beforeQuery) / 7;
    const baselineQueryMs = Math.round((timings.sort((a, b) => a - b)[3] ?? 0) * 10) / 10;

    const measurements: SweepMeasurement[] = [];
    // Warm-up (handler imports, JIT) on an empty slot.
    await runSweep(new Date(DAY + 10 * WINDOW_MS), new Date(), 60_000);
    measurements.push(await measure(1_000, 10, SLOT_SMALL, 0));
    measurements.push(await measure(1_000, 100, SLOT_LARGE, 0));

    await putAll(background(smallBackground, largeTotal - 1_000));
    const writeSeconds = Math.round((performance.now() - writeStarted) / 100) / 10;
    // The swept tenants were re-indexed to the next day: sweep that day.
    measurements.push(await measure(largeTotal, 10, SLOT_SMALL, 1));
    measurements.push(await measure(largeTotal, 100, SLOT_LARGE, 1));

    const by = (total: number, due: number) =>
      measurements.find((entry) => entry.total === total && entry.due === due) as SweepMeasurement;
    const verdicts: string[] = [];
    const flat10 = Math.abs(by(largeTotal, 10).requests - by(1_000, 10).requests) <= 2;
    const flat100 = Math.abs(by(largeTotal, 100).requests - by(1_000, 100).requests) <= 2;
    verdicts.push(
      `requests independent of total tenants (1k → ${largeTotal / 1000}k, ±2): ${flat10 && flat100 ? 'met' : 'NOT met'}`,
    );
    const perDue10 = by(largeTotal, 10).requests / 10;
    const perDue100 = by(largeTotal, 100).requests / 100;
    verdicts.push(
      `requests grow with due tenants: ${by(largeTotal, 10).requests} → ${by(largeTotal, 100).requests} ` +
        `(${perDue10.toFixed(1)} → ${perDue100.toFixed(1)} per due tenant): ${perDue100 <= perDue10 * 1.2 ? 'met' : 'NOT met'}`,
    );
    return { baselineQueryMs, baselineRequests, writeSeconds, measurements, verdicts };
  } finally {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function report(result: SweepBenchResult): void {
  console.log(`baseline: one slot Query = ${result.baselineRequests} request, ${result.baselineQueryMs} ms`);
  console.log(
    `settings items written in ${result.writeSeconds} s (BatchWrite, ${WRITE_CONCURRENCY} in flight)`,
  );
  console.table(
    result.measurements.map((entry) => ({
      'total tenants': entry.total,
      due: entry.due,
      'checked/due (summary)': `${entry.summary.checked}/${entry.summary.due}`,
      'DynamoDB requests': entry.requests,
      'requests per due': Math.round((entry.requests / entry.due) * 10) / 10,
      'sweep ms': entry.ms,
      'ms ×baseline Query': Math.round(entry.ms / Math.max(result.baselineQueryMs, 0.1)),
    })),
  );
  for (const verdict of result.verdicts) console.log(verdict);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSweepBench().then(report, (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
