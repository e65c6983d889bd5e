import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type CatalogVersion,
  type InstalledPlugin,
  MAX_AUTO_UPGRADE_ATTEMPTS,
  type PlanAutoUpgradesInput,
  planAutoUpgrades,
} from '#core/auto-upgrade/plan.ts';
import { summarizePlan } from '#core/auto-upgrade/run-summary.ts';
import { defaultAutoUpgradeSettings } from '#core/auto-upgrade/settings.ts';

function uid(pluginId: string, version: string, build = ''): string {
  return `${pluginId}:${version}@${createHash('sha256').update(`${pluginId}${version}${build}`).digest('hex')}`;
}

function installed(pluginId: string, version: string, hold?: string): InstalledPlugin {
  return {
    plugin_id: pluginId,
    version,
    unique_identifier: uid(pluginId, version),
    ...(hold === undefined ? {} : { hold: { unique_identifier: hold } }),
  };
}

function builds(pluginId: string, versions: string[]): CatalogVersion[] {
  return versions.map((version) => ({ version, unique_identifier: uid(pluginId, version) }));
}

const TOOL = 'acme/tool';
const OTHER = 'acme/other';
const CATALOG = new Map([
  [TOOL, builds(TOOL, ['1.2.3', '1.2.4', '1.2.5', '1.3.0', '2.0.0-beta', '1.2.6-rc1', '1.1.9'])],
  [OTHER, builds(OTHER, ['0.1.0', '0.1.1'])],
]);

function plan(
  overrides: Partial<PlanAutoUpgradesInput['settings']> = {},
  input: Partial<PlanAutoUpgradesInput> = {},
) {
  return planAutoUpgrades({
    settings: { ...defaultAutoUpgradeSettings('acme'), ...overrides },
    installed: [installed(TOOL, '1.2.3'), installed(OTHER, '0.1.0')],
    catalog: CATALOG,
    failures: new Map(),
    ...input,
  });
}

const targets = (result: ReturnType<typeof planAutoUpgrades>) =>
  Object.fromEntries(result.upgrade.map((u) => [u.plugin_id, u.to_version]));
const reasons = (result: ReturnType<typeof planAutoUpgrades>) =>
  Object.fromEntries(result.skipped.map((s) => [s.plugin_id, s.reason]));

describe('strategies', () => {
  it('fix_only keeps major.minor and takes the highest patch', () => {
    const result = plan({ strategy_setting: 'fix_only' });
    expect(targets(result)).toEqual({ [TOOL]: '1.2.5', [OTHER]: '0.1.1' });
    expect(result.upgrade[0]).toEqual({
      plugin_id: TOOL,
      from: uid(TOOL, '1.2.3'),
      to: uid(TOOL, '1.2.5'),
      from_version: '1.2.3',
      to_version: '1.2.5',
    });
  });

  it('latest takes the highest newer release', () => {
    expect(targets(plan({ strategy_setting: 'latest' }))).toEqual({ [TOOL]: '1.3.0', [OTHER]: '0.1.1' });
  });

  it('pre-releases only with the opt-in', () => {
    expect(targets(plan({ strategy_setting: 'latest', allow_prerelease: true }))[TOOL]).toBe('2.0.0-beta');
    expect(targets(plan({ strategy_setting: 'fix_only', allow_prerelease: true }))[TOOL]).toBe('1.2.6-rc1');
  });

  it('never picks a lower or merely different version (Dify upgrades to "latest" even when lower)', () => {
    const result = plan(
      { strategy_setting: 'latest' },
      {
        installed: [installed(TOOL, '1.3.0')],
        catalog: new Map([[TOOL, builds(TOOL, ['1.2.9', '1.3.0'])]]),
      },
    );
    expect(result).toEqual({ upgrade: [], skipped: [{ plugin_id: TOOL, reason: 'up-to-date' }] });
  });

  it('fix_only with only minor/major bumps available is up to date', () => {
    const result = plan(
      {},
      { installed: [installed(TOOL, '1.2.3')], catalog: new Map([[TOOL, builds(TOOL, ['1.3.0'])]]) },
    );
    expect(reasons(result)).toEqual({ [TOOL]: 'up-to-date' });
  });

  it('reports prerelease-only when nothing but pre-releases are newer', () => {
    const catalog = new Map([[TOOL, builds(TOOL, ['1.2.3', '1.2.4-beta'])]]);
    expect(reasons(plan({}, { installed: [installed(TOOL, '1.2.3')], catalog }))).toEqual({
      [TOOL]: 'prerelease-only',
    });
    expect(
      targets(plan({ allow_prerelease: true }, { installed: [installed(TOOL, '1.2.3')], catalog })),
    ).toEqual({
      [TOOL]: '1.2.4-beta',
    });
  });

  it('a plugin missing from the catalog is up to date', () => {
    expect(reasons(plan({}, { catalog: new Map() }))).toEqual({
      [TOOL]: 'up-to-date',
      [OTHER]: 'up-to-date',
    });
  });

  it('disabled skips everything', () => {
    const result = plan({ strategy_setting: 'disabled' });
    expect(result.upgrade).toEqual([]);
    expect(reasons(result)).toEqual({ [TOOL]: 'disabled', [OTHER]: 'disabled' });
  });

  it('takes the first listed build when a version has several', () => {
    const catalog = new Map([
      [
        TOOL,
        [
          { version: '1.2.4', unique_identifier: uid(TOOL, '1.2.4', 'resigned') },
          { version: '1.2.4', unique_identifier: uid(TOOL, '1.2.4') },
        ],
      ],
    ]);
    expect(plan({}, { installed: [installed(TOOL, '1.2.3')], catalog }).upgrade[0]?.to).toBe(
      uid(TOOL, '1.2.4', 'resigned'),
    );
  });

  it('takes the first published build of a version, as the marketplace serves it', () => {
    const catalog = new Map([
      [
        TOOL,
        [
          {
            version: '1.2.4',
            unique_identifier: uid(TOOL, '1.2.4', 'b'),
            published_at: '2026-02-01T00:00:00Z',
          },
          {
            version: '1.2.4',
            unique_identifier: uid(TOOL, '1.2.4', 'a'),
            published_at: '2026-01-01T00:00:00Z',
          },
        ],
      ],
    ]);
    expect(plan({}, { installed: [installed(TOOL, '1.2.3')], catalog }).upgrade[0]?.to).toBe(
      uid(TOOL, '1.2.4', 'a'),
    );
  });
});

describe('deprecation', () => {
  it('never upgrades a deprecated plugin and says why', () => {
    const result = plan(
      { strategy_setting: 'latest' },
      {
        deprecations: new Map([[TOOL, { reason: 'Unmaintained.', alternative_plugin_id: 'acme/tool2' }]]),
      },
    );
    expect(targets(result)).toEqual({ [OTHER]: '0.1.1' });
    expect(result.skipped).toEqual([
      {
        plugin_id: TOOL,
        reason: 'deprecated',
        detail: 'acme/tool is deprecated: Unmaintained. Switch to acme/tool2 instead.',
      },
    ]);
  });
});

describe('modes', () => {
  it.each([
    ['all', [], [], { [TOOL]: '1.2.5', [OTHER]: '0.1.1' }, {}],
    ['partial', [TOOL], [], { [TOOL]: '1.2.5' }, { [OTHER]: 'not-included' }],
    ['partial', [], [TOOL], {}, { [TOOL]: 'not-included', [OTHER]: 'not-included' }],
    ['exclude', [], [TOOL], { [OTHER]: '0.1.1' }, { [TOOL]: 'excluded' }],
    ['exclude', [TOOL], [], { [TOOL]: '1.2.5', [OTHER]: '0.1.1' }, {}],
    ['all', [OTHER], [TOOL], { [TOOL]: '1.2.5', [OTHER]: '0.1.1' }, {}],
  ] as const)('mode %s include=%j exclude=%j', (mode, include, exclude, upgraded, skipped) => {
    const result = plan({ upgrade_mode: mode, include_plugins: [...include], exclude_plugins: [...exclude] });
    expect(targets(result)).toEqual(upgraded);
    expect(reasons(result)).toEqual(skipped);
  });

  it('mode filters come before version checks', () => {
    const result = plan({ upgrade_mode: 'exclude', exclude_plugins: [TOOL] }, { catalog: new Map() });
    expect(reasons(result)).toEqual({ [TOOL]: 'excluded', [OTHER]: 'up-to-date' });
  });
});

describe('holds', () => {
  it('does not go back to the held version or anything up to it', () => {
    const result = plan({}, { installed: [installed(TOOL, '1.2.3', uid(TOOL, '1.2.5'))] });
    expect(result.skipped).toEqual([{ plugin_id: TOOL, reason: 'held', candidate: uid(TOOL, '1.2.5') }]);
  });

  it('takes a release newer than the held one (the fix)', () => {
    const catalog = new Map([[TOOL, builds(TOOL, ['1.2.4', '1.2.5', '1.2.6'])]]);
    const result = plan({}, { installed: [installed(TOOL, '1.2.3', uid(TOOL, '1.2.5'))], catalog });
    expect(targets(result)).toEqual({ [TOOL]: '1.2.6' });
  });

  it('a hold on an older version does not block', () => {
    const result = plan({}, { installed: [installed(TOOL, '1.2.3', uid(TOOL, '1.2.2'))] });
    expect(targets(result)).toEqual({ [TOOL]: '1.2.5' });
  });

  it('an up-to-date plugin with a hold is up to date, not held', () => {
    const result = plan({}, { installed: [installed(OTHER, '0.1.1', uid(OTHER, '0.1.2'))] });
    expect(reasons(result)).toEqual({ [OTHER]: 'up-to-date' });
  });
});

describe('retries', () => {
  it(`retries a failed target until it failed ${MAX_AUTO_UPGRADE_ATTEMPTS} times`, () => {
    const target = uid(TOOL, '1.2.5');
    for (let failures = 0; failures < MAX_AUTO_UPGRADE_ATTEMPTS; failures += 1) {
      expect(targets(plan({}, { failures: new Map([[target, failures]]) }))[TOOL]).toBe('1.2.5');
    }
    const exhausted = plan({}, { failures: new Map([[target, MAX_AUTO_UPGRADE_ATTEMPTS]]) });
    expect(exhausted.skipped).toEqual([{ plugin_id: TOOL, reason: 'retries-exhausted', candidate: target }]);
    expect(targets(exhausted)).toEqual({ [OTHER]: '0.1.1' });
  });

  it('failures of another target do not count', () => {
    const result = plan({}, { failures: new Map([[uid(TOOL, '1.2.4'), 9]]) });
    expect(targets(result)[TOOL]).toBe('1.2.5');
  });

  it('a newer release resets the count (failures are per target)', () => {
    const catalog = new Map([[TOOL, builds(TOOL, ['1.2.5', '1.2.6'])]]);
    const result = plan(
      {},
      { installed: [installed(TOOL, '1.2.3')], catalog, failures: new Map([[uid(TOOL, '1.2.5'), 3]]) },
    );
    expect(targets(result)).toEqual({ [TOOL]: '1.2.6' });
  });
});

describe('summarizePlan', () => {
  it('records checked, upgraded and skipped with reasons', () => {
    const result = plan({ upgrade_mode: 'exclude', exclude_plugins: [OTHER] });
    expect(summarizePlan(result, new Date('2026-05-01T10:15:03Z'), new Date('2026-05-01T10:00:00Z'))).toEqual(
      {
        run_at: '2026-05-01T10:15:03.000Z',
        window_start: '2026-05-01T10:00:00.000Z',
        checked: 2,
        upgraded: [{ plugin_id: TOOL, from: uid(TOOL, '1.2.3'), to: uid(TOOL, '1.2.5') }],
        skipped: [{ plugin_id: OTHER, reason: 'excluded' }],
        failed: [],
      },
    );
  });
});
