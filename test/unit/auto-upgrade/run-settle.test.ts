import { describe, expect, it } from 'vitest';
import { settleRun } from '#core/auto-upgrade/run-settle.ts';
import type { UpgradeRunSummary } from '#core/auto-upgrade/run-summary.ts';
import { isSweepInstantAllowed } from '#core/auto-upgrade/schedule.ts';

const run: UpgradeRunSummary = {
  run_at: '2026-12-01T03:15:00.000Z',
  checked: 3,
  upgraded: [
    { plugin_id: 'a/x', from: 'a/x:1', to: 'a/x:2', deployment_id: 'D1' },
    { plugin_id: 'a/y', from: 'a/y:1', to: 'a/y:2', deployment_id: 'D2' },
    { plugin_id: 'a/z', from: 'a/z:1', to: 'a/z:2', deployment_id: 'D3' },
  ],
  skipped: [],
  failed: [],
};

describe('settleRun', () => {
  it('moves upgrades whose deployment was refused or failed to `failed`, keeps the rest', () => {
    const refused = { type: 'urn:pluginops:problem:signature-required', detail: 'unsigned' };
    const settled = settleRun(
      run,
      new Map([
        ['D1', { status: 'succeeded' }],
        ['D2', { status: 'failed', error: refused }],
        ['D3', { status: 'running' }],
      ]),
    );
    expect(settled.upgraded.map((entry) => entry.deployment_id)).toEqual(['D1', 'D3']);
    expect(settled.failed).toEqual([
      { plugin_id: 'a/y', from: 'a/y:1', to: 'a/y:2', deployment_id: 'D2', problem: refused },
    ]);
  });

  it('counts rolled back and rejected deployments as failed too', () => {
    const settled = settleRun(
      run,
      new Map([
        ['D1', { status: 'rolled_back' }],
        ['D2', { status: 'rejected' }],
      ]),
    );
    expect(settled.failed.map((entry) => entry.deployment_id)).toEqual(['D1', 'D2']);
    expect(settled.upgraded.map((entry) => entry.deployment_id)).toEqual(['D3']);
  });
});

describe('operator sweeps at arbitrary instants', () => {
  const now = new Date('2026-12-06T21:00:00Z');

  it('bounds `at` to seven days either side of now', () => {
    expect(isSweepInstantAllowed(new Date('9999-12-31T23:45:30Z'), now)).toBe(false);
    expect(isSweepInstantAllowed(new Date('2026-12-13T21:00:00Z'), now)).toBe(true);
    expect(isSweepInstantAllowed(new Date('2026-12-13T21:00:01Z'), now)).toBe(false);
    expect(isSweepInstantAllowed(new Date('2026-11-29T21:00:00Z'), now)).toBe(true);
  });
});
