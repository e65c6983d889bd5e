import { describe, expect, it } from 'vitest';
import { schedulerEnabled, startLocalScheduler } from '#local/scheduler.ts';
import { sweepExecutionName } from '#services/sweep-run.ts';

describe('sweepExecutionName', () => {
  it('names the execution after its window start, within Step Functions name rules', () => {
    const name = sweepExecutionName(new Date('2026-01-01T10:00:00Z'));
    expect(name).toBe('sweep-20260101T1000Z');
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });
});

describe('local scheduler', () => {
  it('is on by default, off with PLUGINOPS_SCHEDULER=off and under Vitest unless asked for', () => {
    expect(schedulerEnabled({})).toBe(true);
    expect(schedulerEnabled({ PLUGINOPS_SCHEDULER: 'off' })).toBe(false);
    expect(schedulerEnabled({ VITEST: 'true' })).toBe(false);
    expect(schedulerEnabled({ VITEST: 'true', PLUGINOPS_SCHEDULER: 'on' })).toBe(true);
  });

  it('fires at the next UTC quarter-hour', async () => {
    const scheduler = startLocalScheduler({ start: async () => ({ name: 'x', alreadyStarted: false }) });
    try {
      const next = scheduler.nextRun();
      expect(next).not.toBeNull();
      expect((next as Date).getUTCMinutes() % 15).toBe(0);
      expect((next as Date).getUTCSeconds()).toBe(0);
      expect((next as Date).getTime() - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    } finally {
      await scheduler.stop();
    }
  });
});
