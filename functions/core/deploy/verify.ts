/**
 * The Verify step's rules (docs/design.md#deploy-workflow): what must hold before a package may
 * reach a tenant. Pure: the caller gathers the facts (the stored package record, a fresh
 * inspection of the stored bytes, the tenant's effective policy, what is installed) and gets every
 * check's verdict back; {@link assertVerified} turns the first failed check into its problem.
 */
import type { PackageRecord } from '#core/catalog.ts';
import { ProblemError, type ProblemSlug } from '#core/errors.ts';
import type { PermissionCeiling, TenantPolicy } from '#core/policy.ts';
import { compareVersions } from '#core/version.ts';
import type { DeploymentOperation } from './model.ts';

export type CheckName =
  | 'integrity'
  | 'source'
  | 'signature'
  | 'install_scope'
  | 'permissions'
  | 'platform'
  | 'downgrade'
  | 'dependencies';

export interface CheckResult {
  check: CheckName;
  ok: boolean;
  /** Set when `ok` is false. */
  slug?: ProblemSlug;
  detail: string;
}

/** What re-reading the stored bytes found (see `inspectPackage`). */
export interface FreshInspection {
  uniqueIdentifier: string;
  sha256: string;
  signature: {
    status: 'verified' | 'unsigned' | 'invalid';
    keyId?: string | undefined;
    authorizedCategory?: string | undefined;
  };
}

export interface VerifyInput {
  operation: DeploymentOperation;
  allowDowngrade: boolean;
  record: Pick<
    PackageRecord,
    'unique_identifier' | 'plugin_id' | 'version' | 'sha256' | 'manifest' | 'source'
  >;
  inspected: FreshInspection;
  policy: TenantPolicy;
  /** Version installed now, `null` when nothing is. */
  installedVersion: string | null;
}

/** Runs every rule; the order is the order problems are reported in. */
export function verifyDeployment(input: VerifyInput): CheckResult[] {
  return [
    checkIntegrity(input),
    checkSource(input),
    checkSignature(input),
    checkInstallScope(input),
    checkPermissions(input),
    checkPlatform(input),
    checkDowngrade(input),
  ];
}

/**
 * Throws the problem of the first failed check.
 *
 * @example assertVerified(verifyDeployment(input)) // throws ProblemError('signature-required', …)
 */
export function assertVerified(results: readonly CheckResult[]): void {
  const failed = results.find((result) => !result.ok);
  if (failed !== undefined) {
    throw new ProblemError(failed.slug ?? 'invalid-package', failed.detail, {
      extensions: { check: failed.check },
    });
  }
}

const pass = (check: CheckName, detail: string): CheckResult => ({ check, ok: true, detail });
const fail = (check: CheckName, slug: ProblemSlug, detail: string): CheckResult => ({
  check,
  ok: false,
  slug,
  detail,
});

/** The bytes in storage must still be the build the identifier pins. */
export function checkIntegrity({ record, inspected }: VerifyInput): CheckResult {
  if (inspected.sha256 !== record.sha256) {
    return fail(
      'integrity',
      'invalid-package',
      `The stored bytes of ${record.unique_identifier} have SHA-256 ${inspected.sha256}, not the catalogued ${record.sha256}.`,
    );
  }
  if (inspected.uniqueIdentifier !== record.unique_identifier) {
    return fail(
      'integrity',
      'invalid-package',
      `The stored package computes to ${inspected.uniqueIdentifier}, not ${record.unique_identifier}.`,
    );
  }
  return pass('integrity', 'checksum and identity match the catalog');
}

export function checkSource({ record, policy }: VerifyInput): CheckResult {
  const source = record.source.type;
  if (!policy.allowed_sources.includes(source)) {
    return fail(
      'source',
      'source-not-allowed',
      `This tenant's policy does not allow packages from source "${source}" (allowed: ${policy.allowed_sources.join(', ') || 'none'}).`,
    );
  }
  return pass('source', `source "${source}" is allowed`);
}

/**
 * With `require_signature`, the package must verify now (against the stage's current signers) with
 * a signer the tenant trusts; an empty `trusted_signers` list trusts every stage signer.
 */
export function checkSignature({ inspected, policy }: VerifyInput): CheckResult {
  const { status, keyId } = inspected.signature;
  if (!policy.require_signature) return pass('signature', `not required (package is ${status})`);
  if (status === 'unsigned') {
    return fail(
      'signature',
      'signature-required',
      'This tenant requires signed packages; the package is unsigned.',
    );
  }
  const trusted =
    status === 'verified' &&
    (policy.trusted_signers.length === 0 || (keyId !== undefined && policy.trusted_signers.includes(keyId)));
  if (!trusted) {
    const why =
      status === 'verified'
        ? `it is signed by "${keyId}", which is not among the tenant's trusted signers (${policy.trusted_signers.join(', ')})`
        : 'it does not verify with any current stage signer';
    return fail('signature', 'signature-invalid', `The package signature is not acceptable: ${why}.`);
  }
  return pass('signature', `verified by "${keyId}"`);
}

/** Categories each install scope admits (Dify's `plugin_installation_scope`). */
const SCOPE_CATEGORIES: Record<TenantPolicy['install_scope'], readonly string[] | 'any'> = {
  none: [],
  official_only: ['langgenius'],
  official_and_specific_partners: ['langgenius', 'partner'],
  all: 'any',
};

/**
 * `authorized_category` only counts from a verified signature: an unsigned package could claim
 * anything in `.verification.dify.json`.
 */
export function checkInstallScope({ inspected, policy }: VerifyInput): CheckResult {
  const allowed = SCOPE_CATEGORIES[policy.install_scope];
  if (allowed === 'any') return pass('install_scope', 'install scope "all"');
  const category =
    inspected.signature.status === 'verified' ? inspected.signature.authorizedCategory : undefined;
  if (category !== undefined && allowed.includes(category)) {
    return pass('install_scope', `category "${category}" is within "${policy.install_scope}"`);
  }
  const what = category === undefined ? 'has no verified authorized_category' : `is "${category}"`;
  const scope =
    allowed.length === 0
      ? `install scope "none" allows no plugin installs`
      : `install scope "${policy.install_scope}" allows only ${allowed.join(' or ')} packages`;
  return fail('install_scope', 'permission-denied-by-policy', `The tenant's ${scope}; this package ${what}.`);
}

/** Permission names the manifest can request, as dotted paths into `resource.permission`. */
const FLAG_PERMISSIONS = [
  'tool.enabled',
  'model.enabled',
  'model.llm',
  'model.text_embedding',
  'model.rerank',
  'model.tts',
  'model.speech2text',
  'model.moderation',
  'node.enabled',
  'endpoint.enabled',
  'app.enabled',
  'storage.enabled',
] as const;

function valueAt(object: unknown, path: string): unknown {
  let current = object;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Requested permissions that exceed the ceiling, named by their manifest path. */
export function permissionsBeyondCeiling(requested: unknown, ceiling: PermissionCeiling): string[] {
  const offending: string[] = [];
  for (const path of FLAG_PERMISSIONS) {
    if (valueAt(requested, path) === true && valueAt(ceiling, path) !== true) offending.push(path);
  }
  const size = valueAt(requested, 'storage.size');
  const maximum = valueAt(ceiling, 'storage.size');
  if (valueAt(requested, 'storage.enabled') === true && typeof size === 'number') {
    if (typeof maximum === 'number' && size > maximum) offending.push('storage.size');
  }
  return offending;
}

export function checkPermissions({ record, policy }: VerifyInput): CheckResult {
  const requested = valueAt(record.manifest, 'resource.permission');
  const offending = permissionsBeyondCeiling(requested, policy.permission_ceiling);
  if (offending.length > 0) {
    const detail = offending
      .map((path) =>
        path === 'storage.size'
          ? `storage.size ${String(valueAt(requested, 'storage.size'))} exceeds the ceiling ${String(valueAt(policy.permission_ceiling, 'storage.size'))}`
          : `${path}`,
      )
      .join(', ');
    return fail(
      'permissions',
      'permission-denied-by-policy',
      `${record.unique_identifier} requests permissions beyond the tenant's ceiling: ${detail}.`,
    );
  }
  return pass('permissions', 'requested permissions are within the ceiling');
}

/** Dify never enforces `meta.minimum_dify_version`; pluginops does, against the tenant's platform. */
export function checkPlatform({ record, policy }: VerifyInput): CheckResult {
  const minimum = valueAt(record.manifest, 'meta.minimum_dify_version');
  if (typeof minimum !== 'string' || minimum === '') return pass('platform', 'no minimum platform version');
  let order: number;
  try {
    order = compareVersions(minimum, policy.platform_version);
  } catch {
    return fail(
      'platform',
      'incompatible-platform-version',
      `minimum_dify_version "${minimum}" cannot be compared with the platform version ${policy.platform_version}.`,
    );
  }
  if (order > 0) {
    return fail(
      'platform',
      'incompatible-platform-version',
      `${record.unique_identifier} needs Dify ${minimum} or later; this tenant runs ${policy.platform_version}.`,
    );
  }
  return pass('platform', `needs ${minimum}, tenant runs ${policy.platform_version}`);
}

/** Anti-rollback: a lower version only through an explicit rollback or `allow_downgrade`. */
export function checkDowngrade({
  record,
  operation,
  allowDowngrade,
  installedVersion,
}: VerifyInput): CheckResult {
  return downgradeCheck({ operation, allowDowngrade, installedVersion, targetVersion: record.version });
}

export function downgradeCheck(input: {
  operation: DeploymentOperation;
  allowDowngrade: boolean;
  installedVersion: string | null;
  targetVersion: string;
}): CheckResult {
  const { operation, allowDowngrade, installedVersion, targetVersion } = input;
  if (installedVersion === null) return pass('downgrade', 'nothing installed');
  if (compareVersions(targetVersion, installedVersion) >= 0) {
    return pass('downgrade', `${installedVersion} → ${targetVersion}`);
  }
  if (operation === 'rollback') return pass('downgrade', `rollback ${installedVersion} → ${targetVersion}`);
  if (allowDowngrade)
    return pass('downgrade', `downgrade ${installedVersion} → ${targetVersion} allowed by request`);
  return fail(
    'downgrade',
    'downgrade-not-allowed',
    `${targetVersion} is lower than the installed ${installedVersion}; use a rollback or set allow_downgrade.`,
  );
}
