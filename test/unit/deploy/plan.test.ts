import { describe, expect, it } from 'vitest';
import { configDigest, openConfig, sealConfig } from '#core/deploy/config-seal.ts';
import {
  desiredStateGeneration,
  leaseState,
  type PlannedPackage,
  planStep,
  rollbackRevisionNumber,
} from '#core/deploy/plan.ts';
import { ConflictError, ValidationError } from '#core/errors.ts';

const NONE = { unique_identifier: null, version: null, revision: 0 };
function pkg(version: string, c = 'a'): PlannedPackage {
  return {
    unique_identifier: `acme/tool:${version}@${c.repeat(64)}`,
    plugin_id: 'acme/tool',
    version,
    storage_key: `packages/sha256/${c}.difypkg`,
    sha256: c.repeat(64),
  };
}
const installed = (version: string, revision = 1) => ({
  unique_identifier: pkg(version).unique_identifier,
  version,
  revision,
});

describe('planStep', () => {
  it('plans install, upgrade, downgrade, keep and reconfigure', () => {
    const base = { pluginId: 'acme/tool', hasConfig: false } as const;
    expect(planStep({ ...base, operation: 'install', installed: NONE, target: pkg('1.0.0') }).action).toBe(
      'install',
    );
    expect(
      planStep({ ...base, operation: 'upgrade', installed: installed('1.0.0'), target: pkg('1.1.0', 'b') })
        .action,
    ).toBe('upgrade');
    expect(
      planStep({ ...base, operation: 'install', installed: installed('1.1.0'), target: pkg('1.0.0', 'b') })
        .action,
    ).toBe('downgrade');
    expect(
      planStep({ ...base, operation: 'install', installed: installed('1.0.0'), target: pkg('1.0.0') }).action,
    ).toBe('keep');
    expect(
      planStep({
        ...base,
        hasConfig: true,
        operation: 'install',
        installed: installed('1.0.0'),
        target: pkg('1.0.0'),
      }).action,
    ).toBe('reconfigure');
  });

  it('honours expected_current (null means nothing installed)', () => {
    const base = {
      pluginId: 'acme/tool',
      hasConfig: false,
      operation: 'install',
      target: pkg('1.0.0'),
    } as const;
    expect(() => planStep({ ...base, installed: installed('0.9.0'), expectedCurrent: null })).toThrow(
      ConflictError,
    );
    expect(planStep({ ...base, installed: NONE, expectedCurrent: null }).action).toBe('install');
    expect(() =>
      planStep({ ...base, installed: NONE, expectedCurrent: pkg('0.9.0').unique_identifier }),
    ).toThrow(ConflictError);
  });

  it('refuses to upgrade or uninstall what is not installed', () => {
    expect(() =>
      planStep({
        pluginId: 'acme/tool',
        hasConfig: false,
        operation: 'upgrade',
        installed: NONE,
        target: pkg('1.0.0'),
      }),
    ).toThrow(ConflictError);
    expect(() =>
      planStep({ pluginId: 'acme/tool', hasConfig: false, operation: 'uninstall', installed: NONE }),
    ).toThrow(ConflictError);
  });

  it('plans a rollback to a revision, including one that had nothing installed', () => {
    const step = planStep({
      pluginId: 'acme/tool',
      hasConfig: false,
      operation: 'rollback',
      installed: installed('1.1.0', 2),
      restore: {
        revision: { revision: 1, unique_identifier: pkg('1.0.0', 'c').unique_identifier },
        package: pkg('1.0.0', 'c'),
      },
    });
    expect(step).toMatchObject({ action: 'downgrade', restore_revision: 1, to: { version: '1.0.0' } });
    const toEmpty = planStep({
      pluginId: 'acme/tool',
      hasConfig: false,
      operation: 'rollback',
      installed: installed('1.1.0', 3),
      restore: { revision: { revision: 2, unique_identifier: null } },
    });
    expect(toEmpty.action).toBe('uninstall');
  });
});

describe('rollbackRevisionNumber', () => {
  it('defaults to the previous revision and validates an explicit one', () => {
    expect(rollbackRevisionNumber(3, undefined)).toBe(2);
    expect(rollbackRevisionNumber(3, 1)).toBe(1);
    expect(() => rollbackRevisionNumber(1, undefined)).toThrow(ConflictError);
    expect(() => rollbackRevisionNumber(3, 4)).toThrow(ValidationError);
  });
});

describe('leases', () => {
  const now = new Date('2025-01-01T00:00:00Z');
  it('tells free, mine, held and expired apart', () => {
    expect(leaseState(undefined, 'd1', now)).toBe('free');
    expect(
      leaseState({ deployment_id: 'd1', expires_at: '2024-01-01T00:00:00Z', phase: 'acquired' }, 'd1', now),
    ).toBe('mine');
    expect(
      leaseState({ deployment_id: 'd2', expires_at: '2025-01-01T00:05:00Z', phase: 'acquired' }, 'd1', now),
    ).toBe('held');
    expect(
      leaseState({ deployment_id: 'd2', expires_at: '2024-12-31T23:59:59Z', phase: 'acquired' }, 'd1', now),
    ).toBe('expired');
  });

  it('derives a generation that grows with every revision', () => {
    expect(desiredStateGeneration([3, 1])).toBe(4);
    expect(desiredStateGeneration([])).toBe(0);
  });
});

describe('config sealing', () => {
  it('round-trips, never stores the clear value, and digests canonically', () => {
    const key = Buffer.alloc(32, 7);
    const sealed = sealConfig({ api_key: 'sk-secret', region: 'eu' }, key);
    expect(sealed).not.toContain('sk-secret');
    expect(openConfig(sealed, key)).toEqual({ api_key: 'sk-secret', region: 'eu' });
    expect(configDigest({ b: 1, a: 2 })).toBe(configDigest({ a: 2, b: 1 }));
    expect(() => openConfig(sealed, Buffer.alloc(32, 8))).toThrow();
  });
});
