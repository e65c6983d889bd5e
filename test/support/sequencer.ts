/**
 * Test file order: Vitest runs the longest files first when its results cache (under
 * node_modules/.vite) knows their durations, and the largest files first when it does not — as on
 * every clean clone, CI included. On these 2-core machines the two orders differ by ~35 s of wall
 * time (246 s against 283 s, same commit, back to back): by size, two CPU-heavy suites (the
 * reliability matrix and the soak) met at the end and slowed each other while short files waited.
 * This sequencer gives files without a cached result the duration recorded in
 * test/support/file-durations.json, so a clean clone runs in the order a warm checkout does.
 * Refresh the table after a full run with `npx tsx test/support/record-durations.ts`; a stale or
 * missing entry changes only the order, never what runs.
 */
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export const DURATIONS_FILE = new URL('./file-durations.json', import.meta.url);

/** Recorded milliseconds per file, keyed `<project>:<path from the root>`. */
function recordedDurations(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(DURATIONS_FILE, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

export default class RecordedDurationSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const recorded = recordedDurations();
    const estimates = new Map<TestSpecification, { failed: boolean; duration: number }>();
    for (const spec of files) {
      const cached = this.ctx.cache.getTestSpecificationResult(spec);
      const key = `${spec.project.name}:${relative(spec.project.config.root, spec.moduleId)}`;
      const duration = cached?.duration ?? recorded[key];
      // A file known to neither runs first, as Vitest runs unknown files first (its size breaks ties).
      estimates.set(spec, {
        failed: cached?.failed === true,
        duration: duration ?? Number.MAX_SAFE_INTEGER - (await stat(spec.moduleId)).size,
      });
    }
    return [...files].sort((a, b) => {
      const group = a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder;
      if (group !== 0) return group;
      if (a.project.name !== b.project.name) return a.project.name < b.project.name ? -1 : 1;
      if (a.project.config.isolate !== b.project.config.isolate) return a.project.config.isolate ? -1 : 1;
      const first = estimates.get(a) as { failed: boolean; duration: number };
      const second = estimates.get(b) as { failed: boolean; duration: number };
      if (first.failed !== second.failed) return first.failed ? -1 : 1;
      return second.duration - first.duration;
    });
  }
}
