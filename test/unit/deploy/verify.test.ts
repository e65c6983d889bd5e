import { describe, expect, it } from 'vitest';
import {
  assertVerified,
  permissionsBeyondCeiling,
  type VerifyInput,
  verifyDeployment,
} from '#core/deploy/verify.ts';
import { ProblemError } from '#core/errors.ts';
import { FULL_PERMISSION_CEILING, stageDefaultPolicy, type TenantPolicy } from '#core/policy.ts';

const UID = `acme/tool:1.2.0@${'a'.repeat(64)}`;

function input(overrides: Partial<VerifyInput> = {}, policy: Partial<TenantPolicy> = {}): VerifyInput {
  return {
    operation: 'install',
    allowDowngrade: false,
    record: {
      unique_identifier: UID,
      plugin_id: 'acme/tool',
      version: '1.2.0',
      sha256: 'b'.repeat(64),
      manifest: { resource: { permission: { tool: { enabled: true } } }, meta: {} },
      source: { type: 'package' },
    },
    inspected: { uniqueIdentifier: UID, sha256: 'b'.repeat(64), signature: { status: 'unsigned' } },
    policy: { ...stageDefaultPolicy({ platformVersion: '1.9.0', approvalRequired: false }), ...policy },
    installedVersion: null,
    ...overrides,
  };
}

function failure(value: VerifyInput): { slug: string; detail: string; check: unknown } {
  try {
    assertVerified(verifyDeployment(value));
  } catch (error) {
    expect(error).toBeInstanceOf(ProblemError);
    const problem = (error as ProblemError).toProblem();
    return { slug: (error as ProblemError).slug, detail: problem.detail, check: problem.check };
  }
  throw new Error('expected a verification failure');
}

describe('verifyDeployment', () => {
  it('passes a plain install under the stage defaults', () => {
    expect(verifyDeployment(input()).every((check) => check.ok)).toBe(true);
  });

  it('rejects stored bytes that no longer match the catalog (invalid-package)', () => {
    const bad = input({
      inspected: { uniqueIdentifier: UID, sha256: 'c'.repeat(64), signature: { status: 'unsigned' } },
    });
    expect(failure(bad)).toMatchObject({ slug: 'invalid-package', check: 'integrity' });
    const renamed = input({
      inspected: {
        uniqueIdentifier: `acme/tool:1.2.0@${'d'.repeat(64)}`,
        sha256: 'b'.repeat(64),
        signature: { status: 'unsigned' },
      },
    });
    expect(failure(renamed).slug).toBe('invalid-package');
  });

  it('requires a signature when the policy does (signature-required)', () => {
    expect(failure(input({}, { require_signature: true }))).toMatchObject({
      slug: 'signature-required',
      check: 'signature',
    });
  });

  it('rejects an invalid signature and an untrusted signer (signature-invalid)', () => {
    const invalid = input(
      { inspected: { uniqueIdentifier: UID, sha256: 'b'.repeat(64), signature: { status: 'invalid' } } },
      { require_signature: true },
    );
    expect(failure(invalid).slug).toBe('signature-invalid');
    const untrusted = input(
      {
        inspected: {
          uniqueIdentifier: UID,
          sha256: 'b'.repeat(64),
          signature: { status: 'verified', keyId: 'other' },
        },
      },
      { require_signature: true, trusted_signers: ['ours'] },
    );
    expect(failure(untrusted).detail).toContain('"other"');
    const trusted = input(
      {
        inspected: {
          uniqueIdentifier: UID,
          sha256: 'b'.repeat(64),
          signature: { status: 'verified', keyId: 'ours' },
        },
      },
      { require_signature: true, trusted_signers: ['ours'] },
    );
    expect(() => assertVerified(verifyDeployment(trusted))).not.toThrow();
  });

  it.each([
    ['none', 'langgenius', false],
    ['official_only', 'langgenius', true],
    ['official_only', 'partner', false],
    ['official_and_specific_partners', 'partner', true],
    ['official_and_specific_partners', 'community', false],
    ['all', undefined, true],
  ] as const)('install scope %s with category %s → allowed=%s', (scope, category, allowed) => {
    const value = input(
      {
        inspected: {
          uniqueIdentifier: UID,
          sha256: 'b'.repeat(64),
          signature: { status: 'verified', keyId: 'k', authorizedCategory: category },
        },
      },
      { install_scope: scope },
    );
    const scopeCheck = verifyDeployment(value).find((check) => check.check === 'install_scope');
    expect(scopeCheck?.ok).toBe(allowed);
    if (!allowed) expect(scopeCheck?.slug).toBe('permission-denied-by-policy');
  });

  it('ignores a category claimed by an unverified package', () => {
    const value = input(
      {
        inspected: {
          uniqueIdentifier: UID,
          sha256: 'b'.repeat(64),
          signature: { status: 'invalid', authorizedCategory: 'langgenius' },
        },
      },
      { install_scope: 'official_only' },
    );
    expect(failure(value).slug).toBe('permission-denied-by-policy');
  });

  it('names the permission beyond the ceiling', () => {
    const value = input(
      {
        record: {
          ...input().record,
          manifest: {
            resource: { permission: { model: { enabled: true, llm: true }, endpoint: { enabled: true } } },
          },
        },
      },
      { permission_ceiling: { model: { enabled: true }, endpoint: { enabled: true } } },
    );
    const result = failure(value);
    expect(result.slug).toBe('permission-denied-by-policy');
    expect(result.detail).toContain('model.llm');
    expect(result.detail).not.toContain('endpoint');
  });

  it('caps storage size', () => {
    expect(
      permissionsBeyondCeiling(
        { storage: { enabled: true, size: 4096 } },
        { storage: { enabled: true, size: 2048 } },
      ),
    ).toEqual(['storage.size']);
    expect(
      permissionsBeyondCeiling({ storage: { enabled: false, size: 4096 } }, { storage: { size: 2048 } }),
    ).toEqual([]);
    expect(permissionsBeyondCeiling({ tool: { enabled: true } }, FULL_PERMISSION_CEILING)).toEqual([]);
  });

  it('enforces minimum_dify_version against the platform version', () => {
    const value = input({
      record: { ...input().record, manifest: { meta: { minimum_dify_version: '1.10.0' } } },
    });
    expect(failure(value)).toMatchObject({ slug: 'incompatible-platform-version' });
    const ok = input({
      record: { ...input().record, manifest: { meta: { minimum_dify_version: '1.9.0' } } },
    });
    expect(() => assertVerified(verifyDeployment(ok))).not.toThrow();
  });

  it('refuses a downgrade unless it is a rollback or explicitly allowed', () => {
    expect(failure(input({ installedVersion: '1.3.0' })).slug).toBe('downgrade-not-allowed');
    expect(() =>
      assertVerified(verifyDeployment(input({ installedVersion: '1.3.0', operation: 'rollback' }))),
    ).not.toThrow();
    expect(() =>
      assertVerified(verifyDeployment(input({ installedVersion: '1.3.0', allowDowngrade: true }))),
    ).not.toThrow();
    expect(() => assertVerified(verifyDeployment(input({ installedVersion: '1.2.0' })))).not.toThrow();
  });

  it('refuses a source the tenant does not allow', () => {
    expect(failure(input({}, { allowed_sources: ['marketplace'] })).slug).toBe('source-not-allowed');
  });
});
