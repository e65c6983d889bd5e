/**
 * Dependency resolver benchmark: random layered catalogues of 200 / 2,000 / 20,000 plugin versions
 * (10 versions per plugin, 8 layers, each version depending on 1–3 plugins of the layer below),
 * resolved from every top-layer plugin. Per size it prints the median solve time, the heap it
 * holds, and — as the baseline measured in the same run — a plain topological sort (Kahn) of the
 * same graph, with the ratio. It also times a conflict that must be proven and explained: the
 * request pins a leaf below a version that every plugin of layer 1 needs.
 *
 *   npx tsx bench/resolve.ts
 */

import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ProblemError } from '#core/errors.ts';
import {
  type Candidate,
  type CandidatePort,
  type Requirement,
  resolveDependencies,
} from '#core/resolver/index.ts';

export const SIZES = [200, 2_000, 20_000] as const;
export const TARGET_MS_AT_2000 = 200;
export const TARGET_EXPLAIN_MS = 1_000;

const VERSIONS_PER_PLUGIN = 10;
const LAYERS = 8;
const CHECKSUM = 'c'.repeat(64);

export interface SizeResult {
  versions: number;
  plugins: number;
  resolved: number;
  resolveMs: number;
  heapKiB: number;
  topoMs: number;
  ratio: number;
}

export interface ResolveBenchResult {
  sizes: SizeResult[];
  conflict: { versions: number; explainMs: number; lines: number; firstLine: string; lastLine: string };
}

/** mulberry32: a small seeded PRNG, so every run measures the same graphs. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Graph {
  catalog: Map<string, Candidate[]>;
  layers: string[][];
}

/** Versions 1.0.0…1.4.0 and 2.0.0…2.4.0; a major-M version mostly asks for `^M.0` of its dependencies. */
function layeredGraph(totalVersions: number, seed: number, pinLeaf?: string): Graph {
  const next = random(seed);
  const pluginCount = Math.max(LAYERS, Math.round(totalVersions / VERSIONS_PER_PLUGIN));
  const layers: string[][] = Array.from({ length: LAYERS }, () => []);
  for (let i = 0; i < pluginCount; i += 1)
    layers[Math.floor((i * LAYERS) / pluginCount)]?.push(`bench/p${i}`);
  const catalog = new Map<string, Candidate[]>();
  layers.forEach((plugins, layer) => {
    const below = layers[layer - 1] ?? [];
    for (const pluginId of plugins) {
      const candidates: Candidate[] = [];
      for (let k = 0; k < VERSIONS_PER_PLUGIN; k += 1) {
        const major = 1 + Math.floor(k / 5);
        const version = `${major}.${k % 5}.0`;
        const dependencies: Requirement[] = [];
        const wanted = below.length === 0 ? 0 : 1 + Math.floor(next() * 3);
        for (let d = 0; d < wanted; d += 1) {
          const target = below[Math.floor(next() * below.length)] as string;
          if (dependencies.some((r) => r.pluginId === target)) continue;
          const roll = next();
          const range = roll < 0.6 ? `^${major}.0` : roll < 0.95 ? `>=1.${Math.floor(next() * 5)}.0` : '^1.0';
          dependencies.push({ pluginId: target, range });
        }
        if (pinLeaf !== undefined && layer === 1) dependencies.push({ pluginId: pinLeaf, range: '>=1.1.0' });
        candidates.push({
          pluginId,
          version,
          uniqueIdentifier: `${pluginId}:${version}@${CHECKSUM}`,
          dependencies,
        });
      }
      catalog.set(pluginId, candidates);
    }
  });
  return { catalog, layers };
}

function portOf(catalog: ReadonlyMap<string, Candidate[]>): CandidatePort {
  return { versionsOf: (pluginId) => catalog.get(pluginId) ?? [] };
}

/** The baseline: Kahn's algorithm over the same nodes (versions and plugins) and edges. */
function topologicalSort(catalog: ReadonlyMap<string, Candidate[]>): number {
  const edges = new Map<string, string[]>();
  const indegree = new Map<string, number>();
  const link = (from: string, to: string) => {
    const list = edges.get(from);
    if (list === undefined) edges.set(from, [to]);
    else list.push(to);
    indegree.set(to, (indegree.get(to) ?? 0) + 1);
    if (!indegree.has(from)) indegree.set(from, 0);
  };
  for (const [pluginId, candidates] of catalog) {
    for (const candidate of candidates) {
      link(candidate.uniqueIdentifier, pluginId);
      for (const dependency of candidate.dependencies) link(dependency.pluginId, candidate.uniqueIdentifier);
    }
  }
  const queue = [...indegree].filter(([, n]) => n === 0).map(([id]) => id);
  let visited = 0;
  while (queue.length > 0) {
    const node = queue.pop() as string;
    visited += 1;
    for (const target of edges.get(node) ?? []) {
      const left = (indegree.get(target) ?? 0) - 1;
      indegree.set(target, left);
      if (left === 0) queue.push(target);
    }
  }
  return visited;
}

function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  return gc ?? (() => undefined);
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function runResolveBench(
  log: (line: string) => void = console.log,
): Promise<ResolveBenchResult> {
  const gc = collectGarbage();
  const limits = { maxPackages: 100_000, maxSteps: 1_000_000 };
  const sizes: SizeResult[] = [];
  for (const versions of SIZES) {
    const { catalog, layers } = layeredGraph(versions, versions);
    const roots = (layers[LAYERS - 1] ?? []).map((pluginId) => ({ pluginId, range: '*' }));
    const request = { roots, installed: new Map<string, string>(), limits };
    await resolveDependencies(portOf(catalog), request); // warm-up
    const runs = versions >= 20_000 ? 3 : 7;
    const times: number[] = [];
    let heapKiB = 0;
    let resolved = 0;
    for (let run = 0; run < runs; run += 1) {
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      const started = performance.now();
      const resolution = await resolveDependencies(portOf(catalog), request);
      times.push(performance.now() - started);
      heapKiB = Math.max(heapKiB, (process.memoryUsage().heapUsed - heapBefore) / 1024);
      resolved = resolution.order.length;
    }
    const topoTimes: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      const started = performance.now();
      topologicalSort(catalog);
      topoTimes.push(performance.now() - started);
    }
    const resolveMs = median(times);
    const topoMs = median(topoTimes);
    sizes.push({
      versions,
      plugins: catalog.size,
      resolved,
      resolveMs: round(resolveMs),
      heapKiB: Math.round(heapKiB),
      topoMs: round(topoMs, 2),
      ratio: round(resolveMs / topoMs),
    });
  }

  const leaf = 'bench/p0';
  const conflictGraph = layeredGraph(2_000, 7, leaf);
  const conflictRoots = [
    ...(conflictGraph.layers[LAYERS - 1] ?? []).map((pluginId) => ({ pluginId, range: '*' })),
    { pluginId: leaf, range: '1.0.0' },
  ];
  const conflictTimes: number[] = [];
  let explanation: string[] = [];
  for (let run = 0; run < 5; run += 1) {
    const started = performance.now();
    try {
      await resolveDependencies(portOf(conflictGraph.catalog), {
        roots: conflictRoots,
        installed: new Map(),
        limits,
      });
      throw new Error('the conflict graph unexpectedly has a solution');
    } catch (error) {
      if (!(error instanceof ProblemError)) throw error;
      conflictTimes.push(performance.now() - started);
      explanation = (error.extensions?.explanation as string[] | undefined) ?? [];
    }
  }
  const result: ResolveBenchResult = {
    sizes,
    conflict: {
      versions: 2_000,
      explainMs: round(median(conflictTimes)),
      lines: explanation.length,
      firstLine: explanation[0] ?? '',
      lastLine: explanation[explanation.length - 1] ?? '',
    },
  };
  report(result, log);
  return result;
}

function report(result: ResolveBenchResult, log: (line: string) => void): void {
  console.table(
    result.sizes.map((s) => ({
      versions: s.versions,
      plugins: s.plugins,
      'chosen plugins': s.resolved,
      'resolve ms (median)': s.resolveMs,
      'heap held KiB': s.heapKiB,
      'topo sort ms': s.topoMs,
      'resolve ×topo': s.ratio,
    })),
  );
  const at2000 = result.sizes.find((s) => s.versions === 2_000);
  if (at2000 !== undefined) {
    const met = at2000.resolveMs <= TARGET_MS_AT_2000;
    log(
      `resolve 2,000 versions: ${at2000.resolveMs} ms (target ≤ ${TARGET_MS_AT_2000} ms) ${met ? 'met' : 'NOT MET'}`,
    );
  }
  const { conflict } = result;
  const met = conflict.explainMs <= TARGET_EXPLAIN_MS;
  log(
    `prove + explain a conflict in ${conflict.versions} versions: ${conflict.explainMs} ms, ${conflict.lines} lines ` +
      `(target ≤ ${TARGET_EXPLAIN_MS} ms) ${met ? 'met' : 'NOT MET'}`,
  );
  log(`  first: ${conflict.firstLine}`);
  log(`  last:  ${conflict.lastLine}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runResolveBench().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
