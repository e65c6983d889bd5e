import { configDefaults, defineConfig } from 'vitest/config';

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
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts', 'functions/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...STACK_TESTS],
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
