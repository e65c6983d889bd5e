import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AutoUpgradeSettingsInputSchema,
  AutoUpgradeSettingsSchema,
  defaultAutoUpgradeSettings,
  defaultUpgradeTimeOfDay,
  MAX_PLUGIN_LIST,
  resolveAutoUpgradeSettings,
  settingsWarnings,
  timeZoneProblem,
} from '#core/auto-upgrade/settings.ts';

describe('time zone validation', () => {
  it.each([
    'UTC',
    'Etc/UTC',
    'Etc/GMT+5',
    'Europe/Berlin',
    'America/St_Johns',
    'Asia/Kathmandu',
    'Asia/Kolkata',
    'Asia/Calcutta',
    'America/Argentina/Buenos_Aires',
    'US/Eastern',
  ])('accepts %s', (zone) => {
    expect(timeZoneProblem(zone)).toBeUndefined();
  });

  it.each(['Mars/Phobos', '+05:00', 'UTC+8', '', 'Europe/Berlin ', '../etc/passwd'])('rejects %j', (zone) => {
    expect(timeZoneProblem(zone)).toMatch(/unknown time zone/);
  });

  it('refuses a wrong-case name and suggests the right one', () => {
    expect(timeZoneProblem('europe/berlin')).toContain('did you mean "Europe/Berlin"');
  });

  it('names the field in schema errors', () => {
    const result = AutoUpgradeSettingsInputSchema.safeParse({ timezone: 'Mars/Phobos' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['timezone']);
  });
});

describe('settings schema', () => {
  const valid = { ...defaultAutoUpgradeSettings('acme'), include_plugins: ['acme/tool'] };

  it('accepts Dify-shaped settings and dedupes plugin lists', () => {
    const parsed = AutoUpgradeSettingsSchema.parse({ ...valid, include_plugins: ['a/b', 'a/b', 'c/d'] });
    expect(parsed.include_plugins).toEqual(['a/b', 'c/d']);
  });

  it.each([
    [{ strategy_setting: 'sometimes' }, 'strategy_setting'],
    [{ upgrade_time_of_day: 86_400 }, 'upgrade_time_of_day'],
    [{ upgrade_time_of_day: -1 }, 'upgrade_time_of_day'],
    [{ upgrade_time_of_day: 1.5 }, 'upgrade_time_of_day'],
    [{ upgrade_mode: 'some' }, 'upgrade_mode'],
    [{ include_plugins: ['Not A Plugin'] }, 'include_plugins.0'],
    [{ exclude_plugins: ['ok/one', 'no-slash'] }, 'exclude_plugins.1'],
    [{ unknown_field: true }, ''],
  ])('rejects %j at %s', (patch, path) => {
    const result = AutoUpgradeSettingsInputSchema.safeParse(patch);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path.join('.')).toBe(path);
  });

  it(`caps plugin lists at ${MAX_PLUGIN_LIST}`, () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `author/p${i}`);
    expect(AutoUpgradeSettingsInputSchema.safeParse({ include_plugins: ids(500) }).success).toBe(true);
    expect(AutoUpgradeSettingsInputSchema.safeParse({ include_plugins: ids(501) }).success).toBe(false);
  });
});

describe('defaults', () => {
  it('are fix_only, mode all, UTC, and a spread time', () => {
    expect(defaultAutoUpgradeSettings('acme')).toEqual({
      strategy_setting: 'fix_only',
      upgrade_time_of_day: defaultUpgradeTimeOfDay('acme'),
      timezone: 'UTC',
      upgrade_mode: 'all',
      include_plugins: [],
      exclude_plugins: [],
      allow_prerelease: false,
    });
  });

  it('maps sha256(tenant_id) to a quarter-hour: first 4 bytes big-endian, mod 96, × 900 s', () => {
    const digest = createHash('sha256').update('acme').digest();
    expect(defaultUpgradeTimeOfDay('acme')).toBe((digest.readUInt32BE(0) % 96) * 900);
    expect(defaultUpgradeTimeOfDay('acme')).toBe(11_700); // pinned: changing the mapping moves every tenant
  });

  it('spreads 10k tenants roughly uniformly over the 96 quarter-hours', () => {
    const counts = new Array<number>(96).fill(0);
    for (let i = 0; i < 10_000; i += 1) {
      const seconds = defaultUpgradeTimeOfDay(`tenant-${i}`);
      expect(seconds % 900).toBe(0);
      counts[seconds / 900] = (counts[seconds / 900] ?? 0) + 1;
    }
    const expected = 10_000 / 96;
    const chiSquare = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
    expect(Math.min(...counts)).toBeGreaterThan(expected * 0.6);
    expect(Math.max(...counts)).toBeLessThan(expected * 1.4);
    // 95 degrees of freedom: the 99.9th percentile is about 144.
    expect(chiSquare).toBeLessThan(144);
  });

  it('fills omitted PUT fields with the defaults', () => {
    expect(
      resolveAutoUpgradeSettings('acme', { strategy_setting: 'latest', timezone: 'Asia/Shanghai' }),
    ).toEqual({
      ...defaultAutoUpgradeSettings('acme'),
      strategy_setting: 'latest',
      timezone: 'Asia/Shanghai',
    });
  });
});

describe('settingsWarnings', () => {
  const base = defaultAutoUpgradeSettings('acme');

  it('warns about a partial mode with nothing included and about ignored lists', () => {
    expect(settingsWarnings({ ...base, upgrade_mode: 'partial' }).map((w) => w.path)).toEqual([
      'include_plugins',
    ]);
    expect(
      settingsWarnings({ ...base, include_plugins: ['a/b'], exclude_plugins: ['c/d'] }).map((w) => w.path),
    ).toEqual(['include_plugins', 'exclude_plugins']);
    expect(settingsWarnings({ ...base, upgrade_mode: 'exclude', exclude_plugins: ['c/d'] })).toEqual([]);
  });
});
