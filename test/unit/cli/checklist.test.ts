import { describe, expect, it } from 'vitest';
import type { Deployment, PackageRecord, TenantPolicy } from '#cli/api-types.ts';
import { type ChecklistInput, checklistFailed, evaluateChecklist } from '#cli/checklist.ts';
import { formatTimeOfDay, parseTimeOfDay } from '#cli/commands/auto-upgrade.ts';
import { parseTarget, plannedIdentifier, planRejects } from '#cli/commands/plan.ts';

const UID = `acme/demo:1.0.0@${'c'.repeat(64)}`;
const pkg: PackageRecord = {
  unique_identifier: UID,
  plugin_id: 'acme/demo',
  version: '1.0.0',
  checksum: 'c'.repeat(64),
  size: 1000,
  manifest: { resource: { permission: { tool: { enabled: true }, model: { enabled: true, llm: true } } } },
  signature: { status: 'verified', key_id: 'release' },
  source: { type: 'marketplace' },
  dependencies: [],
  published_at: '2026-01-01T00:00:00Z',
};
const policy: TenantPolicy = {
  require_signature: true,
  trusted_signers: ['release'],
  allowed_sources: ['package', 'marketplace'],
  install_scope: 'all',
  permission_ceiling: { tool: { enabled: true }, model: { enabled: true, llm: true } },
  platform_version: '1.9.0',
  approval_required: true,
};
const installation = {
  plugin_id: 'acme/demo',
  unique_identifier: UID,
  version: '1.0.0',
  revision: 2,
  status: 'installed' as const,
  updated_at: '2026-01-01T00:00:00Z',
};
const lastDeployment = {
  deployment_id: '01HX',
  steps: [{ name: 'Snapshot', status: 'succeeded', started_at: 'x' }],
} as unknown as Deployment;

function statuses(input: Partial<ChecklistInput>) {
  const items = evaluateChecklist({
    package: pkg,
    policy,
    dependencies: { via: 'catalog', findings: [] },
    staging: { tenant: 'stg', installation },
    current: { installation, lastDeployment },
    ...input,
  });
  return Object.fromEntries(
    items.map((item) => [item.id, `${item.status}${item.automatic ? '' : ' (manual)'}`]),
  );
}

describe('evaluateChecklist', () => {
  it('passes every automatic item for a signed, staged, backed-up package; two items stay manual', () => {
    expect(statuses({})).toEqual({
      trusted_source: 'pass',
      signature_verified: 'pass',
      dependencies_complete: 'pass',
      permissions_reasonable: 'pass',
      tested_in_staging: 'pass',
      performance_acceptable: 'manual (manual)',
      config_backed_up: 'pass',
      team_notified: 'manual (manual)',
    });
  });

  it('fails what the tenant would refuse, and what was not staged or backed up', () => {
    const items = evaluateChecklist({
      package: { ...pkg, signature: { status: 'verified', key_id: 'stranger' }, source: { type: 'github' } },
      policy: { ...policy, permission_ceiling: { tool: { enabled: true } } },
      dependencies: {
        via: 'catalog',
        findings: [{ dependency: 'package acme/base', status: 'missing', detail: 'not in the catalog' }],
      },
      staging: { tenant: 'stg', installation: undefined },
      current: { installation, lastDeployment: { ...lastDeployment, steps: [] } },
    });
    expect(items.filter((item) => item.status === 'fail').map((item) => [item.id, item.detail])).toEqual([
      [
        'trusted_source',
        'source "github" is not allowed by the tenant (allowed: package, marketplace); publisher not recorded',
      ],
      ['signature_verified', 'signed by "stranger", which the tenant does not trust (release)'],
      ['dependencies_complete', 'package acme/base: not in the catalog'],
      ['permissions_reasonable', "beyond the tenant's ceiling: model.enabled, model.llm"],
      ['tested_in_staging', `stg runs nothing, not ${UID}`],
      ['config_backed_up', 'deployment 01HX has no Snapshot step'],
    ]);
    expect(checklistFailed(items)).toBe(true);
  });

  it('names who published the build in the trusted-source item', () => {
    const byTenant = evaluateChecklist({
      package: {
        ...pkg,
        publisher: { kind: 'tenant', tenant_id: 'acme', key_id: 'key_1', source: 'package' },
        promoted: { key_id: 'key_op', promoted_at: '2026-01-01T00:00:00Z' },
      },
      policy,
      dependencies: { via: 'catalog', findings: [] },
      current: { installation, lastDeployment },
    }).find((item) => item.id === 'trusted_source');
    expect(byTenant?.detail).toContain('published by tenant acme (key key_1), promoted stage-wide');
    const byOperator = evaluateChecklist({
      package: { ...pkg, publisher: { kind: 'operator', tenant_id: null, key_id: null, source: 'drop' } },
      policy,
      dependencies: { via: 'catalog', findings: [] },
      current: { installation, lastDeployment },
    }).find((item) => item.id === 'trusted_source');
    expect(byOperator?.detail).toContain('published by the operator (via drop)');
  });

  it('what cannot be read becomes manual, not a failure; nothing installed needs no backup', () => {
    const input = {
      policy: { unavailable: 'policy not readable' },
      staging: undefined,
      current: { installation: undefined, lastDeployment: undefined },
    } as Partial<ChecklistInput>;
    const result = statuses(input);
    expect(result).toMatchObject({
      trusted_source: 'manual (manual)',
      permissions_reasonable: 'manual (manual)',
      tested_in_staging: 'manual (manual)',
      config_backed_up: 'pass',
      signature_verified: 'pass',
    });
    delete (input as { staging?: unknown }).staging;
    expect(
      checklistFailed(
        evaluateChecklist({
          package: pkg,
          dependencies: { via: 'plan', findings: [] },
          ...input,
        } as ChecklistInput),
      ),
    ).toBe(false);
  });
});

describe('argument parsing', () => {
  it('reads plan targets and times of day', () => {
    expect(parseTarget(UID)).toEqual({ uniqueIdentifier: UID });
    expect(parseTarget('acme/demo@^1.2')).toEqual({ pluginId: 'acme/demo', range: '^1.2' });
    expect(() => parseTarget('demo')).toThrow(/neither a unique identifier/);
    expect(parseTimeOfDay('03:30')).toBe(12_600);
    expect(parseTimeOfDay('23:59')).toBe(86_340);
    expect(() => parseTimeOfDay('24:00')).toThrow();
    expect(formatTimeOfDay(12_600)).toBe('03:30');
    expect(formatTimeOfDay(12_601)).toBe('03:30:01');
  });

  it('a plan whose checks fail would be refused', () => {
    expect(
      planRejects({
        checks: [
          {
            unique_identifier: UID,
            ok: false,
            signature: { status: 'fail', detail: 'unsigned' },
            platform: { status: 'pass' },
          },
        ],
      }),
    ).toEqual(['acme/demo:1.0.0@cccccccccccc… signature']);
    expect(
      planRejects({ checks: [{ unique_identifier: UID, ok: true, dependencies: { status: 'pass' } }] }),
    ).toEqual([]);
  });
});

describe('checklist signature_verified agrees with the server Verify', () => {
  const item = (input: Partial<ChecklistInput>) =>
    evaluateChecklist({
      package: pkg,
      policy,
      dependencies: { via: 'catalog', findings: [] },
      current: { installation: undefined, lastDeployment: undefined },
      ...input,
    }).find((entry) => entry.id === 'signature_verified');

  it('passes an unsigned package as "not required" on a tenant that does not require signatures', () => {
    expect(
      item({
        package: { ...pkg, signature: { status: 'unsigned' } },
        policy: { ...policy, require_signature: false },
      }),
    ).toMatchObject({ status: 'pass', automatic: true, detail: 'not required (package is unsigned)' });
  });

  it('still fails an unsigned package where the tenant requires signatures', () => {
    expect(item({ package: { ...pkg, signature: { status: 'unsigned' } } })).toMatchObject({
      status: 'fail',
      detail: 'the package is unsigned and the tenant requires signatures',
    });
  });
});

describe('plannedIdentifier', () => {
  const chosen = `acme/demo:1.2.0@${'a'.repeat(64)}`;
  const plan = {
    kind: 'plan' as const,
    plan: { steps: [{ plugin_id: 'acme/demo', action: 'install', unique_identifier: chosen }] },
  };

  it('judges the build the server plan chose for a range target', () => {
    expect(plannedIdentifier('acme/demo@^1.2', plan)).toBe(chosen);
  });

  it('keeps an exact identifier as given, and has no answer without a plan', () => {
    expect(plannedIdentifier(UID, plan)).toBe(UID);
    expect(plannedIdentifier('acme/demo@^1.2', { kind: 'unavailable', reason: 'old stage' })).toBeUndefined();
    expect(plannedIdentifier('acme/other@^1', plan)).toBeUndefined();
  });
});
