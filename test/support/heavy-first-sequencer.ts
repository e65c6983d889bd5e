/**
 * File order for a run without Vitest's results cache (every CI run starts from a clean clone):
 * the slowest suites first, so that the two workers do not end with one long file running alone.
 * Vitest would otherwise order unknown files by size, which put 20–30 s suites (soak, restart,
 * npm start/stop) last. With a cache (a developer's second run) its measured durations decide.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Seconds each took in a full run on the 2-core CI machine (bench/REPORT.md, test suite). */
const KNOWN_SECONDS: Record<string, number> = {
  'test/reliability/fault-injection.test.ts': 59,
  'test/integration/deploy.test.ts': 58,
  'test/integration/cli-remote.test.ts': 45,
  'test/reliability/soak.test.ts': 31,
  'test/integration/dependencies.test.ts': 30,
  'test/integration/auto-upgrade-sweep.test.ts': 26,
  'test/e2e/readme-walkthrough.test.ts': 26,
  'test/integration/cli-pipeline.test.ts': 25,
  'test/reliability/restart.test.ts': 20,
  'test/e2e/console.test.ts': 18,
  'test/integration/npm-start-stop.test.ts': 17,
  'test/integration/dify-daemon.test.ts': 17,
  'test/integration/local-stack.test.ts': 15,
};

export default class HeavyFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const cached = files.some((spec) => this.ctx.cache.getTestSpecificationResult(spec) !== undefined);
    if (cached) return sorted;
    const seconds = (spec: TestSpecification) => {
      const path = spec.moduleId.slice(spec.project.config.root.length + 1);
      return KNOWN_SECONDS[path] ?? 0;
    };
    // Stable: within a project, known-heavy files first by duration, the rest in Vitest's order.
    return sorted
      .map((spec, index) => ({ spec, index }))
      .sort((a, b) => {
        if (a.spec.project.name !== b.spec.project.name) return a.index - b.index;
        return seconds(b.spec) - seconds(a.spec) || a.index - b.index;
      })
      .map(({ spec }) => spec);
  }
}
