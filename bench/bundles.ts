/**
 * Lambda bundle benchmark: bundles every function entry exactly as the stack does (shared options
 * in infra/lambda/bundling.ts), then reports each bundle's size and its cold import time — a fresh
 * Node process importing the bundle, timed inside that process, median of several runs. The
 * baseline is the cold import of an empty module in the same run.
 *
 *   npx tsx bench/bundles.ts
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, PROJECT_ROOT } from '../infra/lambda/bundling.ts';
import { allLambdaEntries } from '../infra/lambda/entries.ts';

const run = promisify(execFile);

export const TARGET_BUNDLE_BYTES = 1024 * 1024;
export const TARGET_IMPORT_MS = 250;
const RUNS = 5;
/** Inside bench/out (git-ignored) so externals (`@aws-sdk/*`) resolve from node_modules like on Lambda. */
const OUT_DIR = join(PROJECT_ROOT, 'bench', 'out', 'bundles');

export interface BundleResult {
  id: string;
  bytes: number;
  importMs: number;
  sizeMet: boolean;
  importMet: boolean;
}

export interface BundlesBenchResult {
  baselineMs: number;
  bundles: BundleResult[];
}

async function bundle(id: string, entryFile: string): Promise<string> {
  const outfile = join(OUT_DIR, id, 'index.mjs');
  await build({
    entryPoints: [entryFile],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: BUNDLE_OPTIONS.target,
    minify: BUNDLE_OPTIONS.minify,
    sourcemap: BUNDLE_OPTIONS.sourcemap,
    external: [...BUNDLE_OPTIONS.external],
    banner: { js: BUNDLE_OPTIONS.banner },
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    logLevel: 'silent',
  });
  return outfile;
}

const IMPORT_PROBE =
  'const start = performance.now(); await import(process.argv[1]); ' +
  'process.stdout.write(String(performance.now() - start));';

/** Median cold import time of `file` in fresh Node processes, in milliseconds. */
async function coldImportMs(file: string): Promise<number> {
  const samples: number[] = [];
  for (let index = 0; index < RUNS; index += 1) {
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', IMPORT_PROBE, pathToFileURL(file).href],
      { cwd: PROJECT_ROOT, timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '' } },
    );
    samples.push(Number(stdout));
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] as number;
}

export async function runBundlesBench(
  log: (line: string) => void = console.log,
): Promise<BundlesBenchResult> {
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  const empty = join(OUT_DIR, 'empty.mjs');
  writeFileSync(empty, 'export {};\n');
  const baselineMs = await coldImportMs(empty);

  const bundles: BundleResult[] = [];
  for (const entry of allLambdaEntries()) {
    const file = await bundle(entry.id, entry.entryFile);
    const bytes = statSync(file).size;
    const importMs = await coldImportMs(file);
    bundles.push({
      id: entry.id,
      bytes,
      importMs,
      sizeMet: bytes <= TARGET_BUNDLE_BYTES,
      importMet: importMs <= TARGET_IMPORT_MS,
    });
  }

  const mark = (met: boolean) => (met ? 'met' : 'NOT met');
  log(`Lambda bundles (node ${process.versions.node}, median of ${RUNS} cold imports)`);
  log(`baseline: empty module cold import ${baselineMs.toFixed(1)} ms`);
  log('function                 size (KiB)  ≤1 MiB    import (ms)  ≤250 ms   × baseline');
  for (const result of bundles) {
    log(
      [
        result.id.padEnd(24),
        (result.bytes / 1024).toFixed(1).padStart(10),
        mark(result.sizeMet).padEnd(8),
        result.importMs.toFixed(1).padStart(12),
        mark(result.importMet).padEnd(8),
        `${(result.importMs / baselineMs).toFixed(1)}×`.padStart(10),
      ].join('  '),
    );
  }
  return { baselineMs, bundles };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runBundlesBench();
}
