/**
 * The deployment views frame by frame: the live view redrawn in place on a fake terminal, the
 * plain log for pipes, and the poll loop with a pinned clock.
 */
import { describe, expect, it } from 'vitest';
import type { Deployment } from '#cli/api-types.ts';
import { ApiClient } from '#cli/client.ts';
import {
  formatDuration,
  LiveRegion,
  PlainStepLog,
  pollPauseMs,
  renderDeploymentFrame,
  truncate,
  waitForDeployment,
} from '#cli/deployment-view.ts';

const ESC = String.fromCharCode(27);
const UID = `acme/demo:1.2.0@${'ab'.repeat(32)}`;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

function deployment(overrides: Partial<Deployment>): Deployment {
  return {
    deployment_id: '01HZZZZZZZZZZZZZZZZZZZZZZZ',
    tenant_id: 'acme',
    operation: 'upgrade',
    target: { unique_identifier: UID, plugin_id: 'acme/demo' },
    status: 'running',
    steps: [],
    created_at: at(0),
    updated_at: at(0),
    ...overrides,
  };
}

const running = deployment({
  steps: [
    { name: 'Resolve', status: 'succeeded', started_at: at(0), ended_at: at(120) },
    { name: 'Apply', status: 'running', started_at: at(200) },
  ],
});
const rolledBack = deployment({
  status: 'rolled_back',
  updated_at: at(4200),
  steps: [
    { name: 'Resolve', status: 'succeeded', started_at: at(0), ended_at: at(120) },
    { name: 'Apply', status: 'succeeded', started_at: at(200), ended_at: at(900) },
    {
      name: 'Probe',
      status: 'failed',
      started_at: at(900),
      ended_at: at(3900),
      error: {
        type: 'urn:pluginops:problem:upstream-failed',
        title: 'Upstream',
        status: 502,
        detail: 'host says failed',
      },
    },
    { name: 'Rollback', status: 'succeeded', started_at: at(3900), ended_at: at(4100) },
  ],
  error: {
    type: 'urn:pluginops:problem:upstream-failed',
    title: 'Upstream source failed',
    status: 502,
    detail: 'host says failed',
  },
});

describe('renderDeploymentFrame', () => {
  it('shows each step with an icon and its time, the running one with a spinner', () => {
    expect(renderDeploymentFrame(running, { now: T0 + 1500, tick: 1, colour: false })).toEqual([
      'upgrade acme/demo:1.2.0@abababababab… on acme',
      'deployment 01HZZZZZZZZZZZZZZZZZZZZZZZ  running 1.5s',
      '  ✓ Resolve   120ms',
      '  ⠙ Apply     1.3s',
    ]);
  });

  it('a final frame uses the deployment end time and names the error; colours only when asked', () => {
    const plain = renderDeploymentFrame(rolledBack, { now: T0 + 99_000, tick: 0, colour: false });
    expect(plain[1]).toBe('deployment 01HZZZZZZZZZZZZZZZZZZZZZZZ  rolled back 4.2s');
    expect(plain).toContain('  ✗ Probe     3.0s  upstream-failed: host says failed');
    expect(plain.at(-1)).toBe('error[upstream-failed] Upstream source failed: host says failed');
    const coloured = renderDeploymentFrame(rolledBack, { now: T0, tick: 0, colour: true });
    expect(coloured[1]).toContain(`${ESC}[31mrolled back${ESC}[39m`);
    expect(coloured[2]).toContain(`${ESC}[32m✓${ESC}[39m`);
  });

  it('tells how to approve a waiting deployment, and cuts lines to the terminal width', () => {
    const waiting = deployment({ status: 'awaiting_approval' });
    expect(renderDeploymentFrame(waiting, { now: T0, tick: 0, colour: false }).at(-1)).toBe(
      '  … waiting for approval: pluginops approve acme 01HZZZZZZZZZZZZZZZZZZZZZZZ',
    );
    const narrow = renderDeploymentFrame(rolledBack, { now: T0, tick: 0, colour: false, columns: 30 });
    expect(Math.max(...narrow.map((line) => line.length))).toBeLessThanOrEqual(29);
    expect(truncate(`${ESC}[31mabcdef${ESC}[39m`, 3)).toBe(`${ESC}[31mabc${ESC}[0m`);
  });
});

describe('LiveRegion on a fake terminal', () => {
  it('draws the first frame, then moves up over it and clears before each redraw', () => {
    const writes: string[] = [];
    const region = new LiveRegion((text) => writes.push(text));
    region.draw(['a', 'b']);
    region.draw(['a', 'b', 'c']);
    region.draw(['done']);
    expect(writes).toEqual([`${ESC}[Ja\nb\n`, `${ESC}[2A\r${ESC}[Ja\nb\nc\n`, `${ESC}[3A\r${ESC}[Jdone\n`]);
  });
});

describe('PlainStepLog', () => {
  it('prints each change once, the final status last', () => {
    const log = new PlainStepLog();
    expect(log.lines(deployment({ status: 'pending' }))).toEqual(['status: pending']);
    expect(log.lines(running)).toEqual([
      'status: running',
      'step Resolve: succeeded (120ms)',
      'step Apply: running',
    ]);
    expect(log.lines(running)).toEqual([]);
    expect(log.lines(rolledBack)).toEqual([
      'step Apply: succeeded (700ms)',
      'step Probe: failed (3.0s) — upstream-failed: host says failed',
      'step Rollback: succeeded (200ms)',
      'status: rolled_back',
    ]);
  });
});

describe('waitForDeployment', () => {
  function fakeApi(states: Deployment[]) {
    let polls = 0;
    const fetchImpl = (async () => {
      const state = states[Math.min(polls, states.length - 1)];
      polls += 1;
      return new Response(JSON.stringify(state), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }) as unknown as typeof fetch;
    return {
      client: new ApiClient(
        { endpoint: 'http://api.test', key: 'po_k', profile: undefined, requestTimeoutMs: 1000 },
        { fetchImpl },
      ),
      polls: () => polls,
    };
  }

  it('polls until the deployment is final, reporting every state', async () => {
    let clock = 0;
    const api = fakeApi([deployment({ status: 'pending' }), running, rolledBack]);
    const seen: string[] = [];
    const result = await waitForDeployment(api.client, 'acme', 'id', {
      timeoutMs: 60_000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      onUpdate: (state) => seen.push(state.status),
    });
    expect(result).toMatchObject({ timedOut: false, deployment: { status: 'rolled_back' } });
    expect(seen).toEqual(['pending', 'running', 'rolled_back']);
  });

  it('stops at the deadline while awaiting approval', async () => {
    let clock = 0;
    const api = fakeApi([deployment({ status: 'awaiting_approval' })]);
    const result = await waitForDeployment(api.client, 'acme', 'id', {
      timeoutMs: 5_000,
      intervalMs: 1_000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    expect(result.timedOut).toBe(true);
    expect(result.deployment.status).toBe('awaiting_approval');
    expect(clock).toBe(5_000);
    expect(api.polls()).toBeGreaterThan(3);
  });
});

describe('pollPauseMs', () => {
  it('starts at 100 ms and grows 1.5 times a poll up to the interval', () => {
    expect(Array.from({ length: 8 }, (_, poll) => pollPauseMs(poll, 1_000))).toEqual([
      100, 150, 225, 338, 506, 759, 1_000, 1_000,
    ]);
    expect(pollPauseMs(40, 250)).toBe(250);
  });
});

describe('formatDuration', () => {
  it('reads well at every scale', () => {
    expect([formatDuration(340), formatDuration(1234), formatDuration(125_000)]).toEqual([
      '340ms',
      '1.2s',
      '2m05s',
    ]);
  });
});
