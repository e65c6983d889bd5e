import { configDefaults, defineConfig } from 'vitest/config';
import RecordedDurationSequencer from './test/support/sequencer.ts';

// Handler logs (Powertools) are JSON lines at INFO; keep the test output readable in every project
// (PLUGINOPS_TEST_LOGS=1 shows them).
if (process.env.PLUGINOPS_TEST_LOGS !== '1') process.env.PLUGINOPS_LOG_LEVEL ??= 'WARN';

/**
 * Two projects: `unit` never starts an engine; `integration` gets one shared local stack per run
 * (test/support/global-setup.ts). Vitest runs a project's global setup only when that project has
 * test files selected, so `vitest run test/unit` stays fast.
 */
const STACK_TESTS = [
  'test/integration/**/*.test.ts',
  'test/e2e/**/*.test.ts',
  'test/security/**/*.test.ts',
  'test/reliability/**/*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: a single worker on these 2-core
    // machines, so every file ran after the other. Stack tests mostly wait on the shared stack,
    // DynamoDB Local and child processes, so two files in flight overlap that waiting. Four were
    // tried and lost: with the machine shared, CPU-bound CLI and stack-start tests then miss their
    // deadlines. VITEST_MAX_WORKERS overrides it.
    maxWorkers: Number(process.env.VITEST_MAX_WORKERS ?? 2),
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Longest files first on a clean clone too (test/support/sequencer.ts says why).
    sequence: { sequencer: RecordedDurationSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts', 'functions/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...STACK_TESTS],
          // Unit files share their workers' module graph instead of importing everything again
          // per file (aws-cdk-lib, the SDK, zod…): 147 → 81 CPU-seconds for this project. They keep
          // no state between files; stack tests stay isolated (each may set the stack's env).
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: STACK_TESTS,
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
