import { describe, expect, it } from 'vitest';
import { canaryWave, shouldHalt } from '#core/auto-upgrade/canary.ts';

const tenants = Array.from({ length: 200 }, (_, i) => `tenant-${i}`);

describe('canaryWave', () => {
  it('takes ceil(n × percent / 100) tenants first', () => {
    expect(canaryWave(tenants, { percent: 5 }, '1.2.4').first).toHaveLength(10);
    expect(canaryWave(tenants.slice(0, 7), { percent: 10 }, '1.2.4').first).toHaveLength(1);
    expect(canaryWave(tenants.slice(0, 1), { percent: 5 }, '1.2.4').first).toHaveLength(1);
    expect(canaryWave(tenants, { percent: 100 }, '1.2.4').rest).toEqual([]);
    expect(canaryWave([], { percent: 5 }, '1.2.4')).toEqual({ first: [], rest: [] });
  });

  it('partitions the tenants (every tenant exactly once, duplicates collapsed)', () => {
    const { first, rest } = canaryWave([...tenants, 'tenant-3'], { percent: 5 }, '1.2.4');
    expect([...first, ...rest].sort()).toEqual([...tenants].sort());
  });

  it('is deterministic: same wave on every run and for any input order', () => {
    const once = canaryWave(tenants, { percent: 5 }, '1.2.4');
    const shuffled = [...tenants].reverse();
    expect(canaryWave(shuffled, { percent: 5 }, '1.2.4').first.sort()).toEqual([...once.first].sort());
    expect(canaryWave(tenants, { percent: 5 }, '1.2.4')).toEqual(once);
  });

  it('keeps the wave stable when one more tenant appears', () => {
    const before = new Set(canaryWave(tenants, { percent: 5 }, '1.2.4').first);
    const after = canaryWave([...tenants, 'newcomer'], { percent: 5 }, '1.2.4').first;
    expect(after.filter((t) => before.has(t)).length).toBeGreaterThanOrEqual(before.size - 1);
  });

  it('samples independently per version, so no tenant is always first', () => {
    const hits = new Map<string, number>();
    for (let v = 0; v < 200; v += 1) {
      for (const t of canaryWave(tenants, { percent: 5 }, `1.0.${v}`).first)
        hits.set(t, (hits.get(t) ?? 0) + 1);
    }
    // Each tenant is expected in 5 % of 200 waves = 10; nobody is in most of them.
    expect(Math.max(...hits.values())).toBeLessThan(30);
    expect(hits.size).toBeGreaterThan(150);
  });
});

describe('shouldHalt', () => {
  it.each([
    [{ attempted: 10, failed: 2 }, 10, true],
    [{ attempted: 10, failed: 1 }, 10, false],
    [{ attempted: 10, failed: 0 }, 0, false],
    [{ attempted: 10, failed: 1 }, 0, true],
    [{ attempted: 0, failed: 0 }, 0, false],
    [{ attempted: 4, failed: 4 }, 100, false],
  ])('%j with threshold %i% → %s', (outcome, threshold, halt) => {
    expect(shouldHalt(outcome, threshold)).toBe(halt);
  });
});
