/**
 * Benchmark: inspecting + verifying a ~50 MiB signed package from a file, against a plain streamed
 * SHA-256 of the same file (the floor: any verification must at least read and hash every byte).
 *
 * Targets: time ratio ≤ 1.3 (median of several rounds after warm-up) and peak RSS delta ≤ 64 MiB.
 * The package is generated in this process; the measurement runs in a fresh child process so the
 * generator's memory does not hide or inflate the RSS figure.
 *
 * Run: `npx tsx bench/verify.ts` (or call `runVerifyBench()` from a bench runner).
 */

import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFileByteSource } from '#adapters/file-byte-source.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { generateSigningKeyPair, signPackage } from '#core/package/sign.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const MiB = 1024 * 1024;
const TARGET_RATIO = 1.3;
const TARGET_RSS_DELTA_BYTES = 64 * MiB;
const WARMUP_ROUNDS = 2;
const ROUNDS = 9;

export interface BenchResult {
  name: string;
  packageBytes: number;
  rounds: number;
  /** Median ms of a plain streamed SHA-256 of the file. */
  plainSha256Ms: number;
  /** Median ms of `inspectPackage` (archive checks, checksum, signature, raw SHA-256 on the worker). */
  inspectMs: number;
  /** Median ms of `inspectPackage` with the raw SHA-256 computed inline (no worker), for comparison. */
  inspectInlineMs: number;
  ratio: number;
  targetRatio: number;
  /**
   * Peak RSS sampled every 2 ms during the measured rounds minus RSS before them (after a warm-up
   * inspection, so the hash worker already exists, and a forced GC).
   */
  peakRssDeltaBytes: number;
  targetRssDeltaBytes: number;
  ratioMet: boolean;
  rssMet: boolean;
  /**
   * Median CPU time (all threads) of `inspectPackage` over that of the plain SHA-256. On a busy
   * machine the wall ratio tends to this (the worker then rarely has a core to itself); on an idle
   * one it tends to the busiest thread's share.
   */
  cpuRatio: number;
  /** 1-minute load average and core count when the measurement started, to read the above. */
  loadAverage: number;
  cores: number;
}

interface Measurement {
  plainSha256Ms: number;
  inspectMs: number;
  inspectInlineMs: number;
  peakRssDeltaBytes: number;
  plainCpuMs: number;
  inspectCpuMs: number;
  loadAverage: number;
  cores: number;
}

export async function runVerifyBench(): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'pluginops-bench-verify-'));
  try {
    const { path, publicKeyPem, size } = await generateSignedPackage(dir);
    const { plainCpuMs, inspectCpuMs, ...measurement } = await measureInChild(path, publicKeyPem);
    const ratio = measurement.inspectMs / measurement.plainSha256Ms;
    return {
      name: 'verify',
      packageBytes: size,
      rounds: ROUNDS,
      ...measurement,
      ratio,
      cpuRatio: inspectCpuMs / plainCpuMs,
      targetRatio: TARGET_RATIO,
      targetRssDeltaBytes: TARGET_RSS_DELTA_BYTES,
      ratioMet: ratio <= TARGET_RATIO,
      rssMet: measurement.peakRssDeltaBytes <= TARGET_RSS_DELTA_BYTES,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** ~49 MiB: the fixture plugin plus six files of random (incompressible) bytes, signed. */
async function generateSignedPackage(dir: string) {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 6; i++) files[`lib/model-${i}.bin`] = randomBytes(Math.floor(8.1 * MiB));
  const unsigned = await buildPackage({ files });
  const { privateKeyPem, publicKeyPem } = await generateSigningKeyPair(4096);
  const signed = await signPackage(byteSourceFromBuffer(unsigned), {
    privateKeyPem,
    authorizedCategory: 'partner',
    now: new Date(),
  });
  const path = join(dir, 'bench.difypkg');
  await writeFile(path, signed);
  return { path, publicKeyPem, size: signed.length };
}

function measureInChild(path: string, publicKeyPem: string): Promise<Measurement> {
  const usesTsx = process.execArgv.some((arg) => arg.includes('tsx'));
  const child = fork(fileURLToPath(import.meta.url), ['--measure', path], {
    execArgv: [...(usesTsx ? process.execArgv : ['--import', 'tsx']), '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as Measurement));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`measurement process exited with code ${code}`)));
    child.send({ publicKeyPem });
  });
}

/* ------------------------------------------------------------------------------------------------
 * Child: the measurement itself
 * --------------------------------------------------------------------------------------------- */

async function measure(path: string, publicKeyPem: string): Promise<Measurement> {
  const keyring = [{ keyId: 'bench', publicKey: publicKeyPem }];
  const plain = async () => {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: MiB })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  };
  const inspect = (workerThresholdBytes?: number) => async () => {
    const source = await openFileByteSource(path);
    try {
      const pkg = await inspectPackage(source, {
        keyring,
        ...(workerThresholdBytes === undefined ? {} : { workerThresholdBytes }),
      });
      if (pkg.signature.status !== 'verified') throw new Error(`signature ${pkg.signature.status}`);
      return pkg.sha256;
    } finally {
      await source.close();
    }
  };
  const expected = await plain();
  if ((await inspect()()) !== expected) throw new Error('inspectPackage computed a different sha256');

  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const rssBefore = process.memoryUsage().rss;
  // maxRSS covers the whole process life (generation-free here, but not the warm-up before
  // `rssBefore`), so the peak is sampled instead; the main thread yields between chunks.
  let peakRss = rssBefore;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 2);
  const samples = { plain: [] as number[], inspect: [] as number[], inline: [] as number[] };
  const cpu = { plain: [] as number[], inspect: [] as number[] };
  const loadAverage = loadavg()[0] as number;
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    // Interleaved so that noise from other processes hits all variants alike.
    const plainRun = await time(plain);
    const inspectRun = await time(inspect());
    const inlineRun = await time(inspect(Number.POSITIVE_INFINITY));
    if (round < WARMUP_ROUNDS) continue;
    samples.plain.push(plainRun.ms);
    samples.inspect.push(inspectRun.ms);
    samples.inline.push(inlineRun.ms);
    cpu.plain.push(plainRun.cpuMs);
    cpu.inspect.push(inspectRun.cpuMs);
  }
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  return {
    plainSha256Ms: median(samples.plain),
    inspectMs: median(samples.inspect),
    inspectInlineMs: median(samples.inline),
    peakRssDeltaBytes: Math.max(0, peakRss - rssBefore),
    plainCpuMs: median(cpu.plain),
    inspectCpuMs: median(cpu.inspect),
    loadAverage,
    cores: availableParallelism(),
  };
}

/** Wall time and CPU time of the whole process (every thread) of one run, in ms. */
async function time(run: () => Promise<unknown>): Promise<{ ms: number; cpuMs: number }> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await run();
  const ms = performance.now() - start;
  const { user, system } = process.cpuUsage(cpuStart);
  return { ms, cpuMs: (user + system) / 1000 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function report(result: BenchResult): void {
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const mib = (value: number) => `${(value / MiB).toFixed(1)} MiB`;
  console.log(`verify bench — ${mib(result.packageBytes)} signed package, median of ${result.rounds} rounds`);
  console.log(`  plain streamed sha256        ${ms(result.plainSha256Ms)}`);
  console.log(`  inspectPackage + verify      ${ms(result.inspectMs)}`);
  console.log(`  … with raw sha256 inline     ${ms(result.inspectInlineMs)}`);
  console.log(
    `  ratio                        ${result.ratio.toFixed(2)} (target ≤ ${result.targetRatio}) ${result.ratioMet ? 'MET' : 'NOT MET'}`,
  );
  console.log(
    `  peak RSS delta               ${mib(result.peakRssDeltaBytes)} (target ≤ ${mib(result.targetRssDeltaBytes)}) ${
      result.rssMet ? 'MET' : 'NOT MET'
    }`,
  );
  console.log(
    `  CPU time ratio (all threads) ${result.cpuRatio.toFixed(2)} — load average ${result.loadAverage.toFixed(1)} on ${result.cores} cores`,
  );
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain && process.argv[2] === '--measure') {
  const path = process.argv[3] as string;
  process.once('message', (message) => {
    const { publicKeyPem } = message as { publicKeyPem: string };
    measure(path, publicKeyPem).then(
      (result) => process.send?.(result, () => process.exit(0)),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
} else if (isMain) {
  report(await runVerifyBench());
}
