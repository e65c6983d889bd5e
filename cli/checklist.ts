/**
 * The deployment verification checklist (部署验证清单) for one package on one tenant, evaluated
 * from what the API knows. Each item is `pass`, `fail` or `manual` and says whether it was checked
 * automatically; `manual` items (performance, telling the team) are the release owner's to tick.
 *
 * | item                  | 清单             | checked automatically from                                   |
 * |-----------------------|------------------|--------------------------------------------------------------|
 * | trusted_source        | 确认插件包来源可信 | package source ∈ policy.allowed_sources, category ∈ install scope |
 * | signature_verified    | 验证数字签名有效   | as the server's Verify: `not required` passes; else `verified` by a trusted signer |
 * | dependencies_complete | 检查依赖关系完整   | the server's plan, else each declared dependency is findable |
 * | permissions_reasonable| 确认权限请求合理   | requested permissions ⊆ the tenant's permission ceiling      |
 * | tested_in_staging     | 在预发环境测试功能 | the identifier is installed, healthy, on the staging tenant  |
 * | performance_acceptable| 验证性能影响可接受 | manual                                                       |
 * | config_backed_up      | 备份当前配置和数据 | the last deployment's Snapshot step succeeded (or nothing installed) |
 * | team_notified         | 通知相关团队成员   | manual                                                       |
 */
import { permissionsBeyondCeiling } from '#core/deploy/verify.ts';
import type { PermissionCeiling } from '#core/policy.ts';
import type { Deployment, Installation, PackageRecord, TenantPolicy } from './api-types.ts';

export type CheckStatus = 'pass' | 'fail' | 'manual';

export const CHECKLIST_ITEMS = [
  { id: 'trusted_source', title: 'Package comes from a trusted source', title_zh: '确认插件包来源可信' },
  { id: 'signature_verified', title: 'Digital signature is valid', title_zh: '验证数字签名有效' },
  { id: 'dependencies_complete', title: 'Dependencies are complete', title_zh: '检查依赖关系完整' },
  {
    id: 'permissions_reasonable',
    title: 'Requested permissions are within the tenant ceiling',
    title_zh: '确认权限请求合理',
  },
  { id: 'tested_in_staging', title: 'Tested in staging', title_zh: '在预发环境测试功能' },
  { id: 'performance_acceptable', title: 'Performance impact is acceptable', title_zh: '验证性能影响可接受' },
  { id: 'config_backed_up', title: 'Current config and data are backed up', title_zh: '备份当前配置和数据' },
  { id: 'team_notified', title: 'The team is notified', title_zh: '通知相关团队成员' },
] as const;

export type ChecklistItemId = (typeof CHECKLIST_ITEMS)[number]['id'];

export interface ChecklistItem {
  id: ChecklistItemId;
  title: string;
  title_zh: string;
  status: CheckStatus;
  /** True when the CLI decided the status from API data; false for items left to a person. */
  automatic: boolean;
  detail: string;
}

/** A fact the gatherer could not read: the item becomes `manual` with this reason. */
export interface Unavailable {
  unavailable: string;
}

export type Fact<T> = T | Unavailable;

export function isUnavailable<T>(fact: Fact<T>): fact is Unavailable {
  return typeof fact === 'object' && fact !== null && 'unavailable' in fact;
}

export interface DependencyFinding {
  dependency: string;
  status: 'found' | 'missing' | 'unverifiable';
  detail: string;
}

export interface ChecklistInput {
  package: PackageRecord;
  policy: Fact<TenantPolicy>;
  /** From the server's plan when it has one; otherwise from looking each dependency up. */
  dependencies: Fact<{ via: 'plan' | 'catalog'; findings: DependencyFinding[] }>;
  /** Undefined: no staging tenant given. */
  staging?: Fact<{ tenant: string; installation: Installation | undefined }>;
  /** The tenant's installation of the plugin now, and the deployment that last changed it. */
  current: Fact<{ installation: Installation | undefined; lastDeployment: Deployment | undefined }>;
}

const SCOPE_CATEGORIES: Record<string, readonly string[] | 'any'> = {
  none: [],
  official_only: ['langgenius'],
  official_and_specific_partners: ['langgenius', 'partner'],
  all: 'any',
};

export function evaluateChecklist(input: ChecklistInput): ChecklistItem[] {
  const results: Record<ChecklistItemId, Pick<ChecklistItem, 'status' | 'automatic' | 'detail'>> = {
    trusted_source: trustedSource(input),
    signature_verified: signatureVerified(input),
    dependencies_complete: dependenciesComplete(input),
    permissions_reasonable: permissionsReasonable(input),
    tested_in_staging: testedInStaging(input),
    performance_acceptable: manual('not measured by pluginops: compare latency and resource use on staging'),
    config_backed_up: configBackedUp(input),
    team_notified: manual('announce the change (the pipeline can post the deployment id and this checklist)'),
  };
  return CHECKLIST_ITEMS.map((item) => ({ ...item, ...results[item.id] }));
}

/** Exit rule: any automatic check that failed. Manual items never fail the command. */
export function checklistFailed(items: readonly ChecklistItem[]): boolean {
  return items.some((item) => item.automatic && item.status === 'fail');
}

type Result = Pick<ChecklistItem, 'status' | 'automatic' | 'detail'>;

function pass(detail: string): Result {
  return { status: 'pass', automatic: true, detail };
}
function fail(detail: string): Result {
  return { status: 'fail', automatic: true, detail };
}
function manual(detail: string): Result {
  return { status: 'manual', automatic: false, detail };
}

/** `published by the operator` / `published by tenant acme (promoted)`, for the trusted-source item. */
export function describePublisher(pkg: PackageRecord): string {
  const publisher = pkg.publisher;
  if (publisher === undefined) return 'publisher not recorded';
  const who = publisher.kind === 'operator' ? 'the operator' : `tenant ${publisher.tenant_id}`;
  const key = publisher.key_id === null ? `via ${publisher.source}` : `key ${publisher.key_id}`;
  return `published by ${who} (${key})${pkg.promoted === undefined ? '' : ', promoted stage-wide'}`;
}

function trustedSource(input: ChecklistInput): Result {
  const result = trustedSourceVerdict(input);
  return { ...result, detail: `${result.detail}; ${describePublisher(input.package)}` };
}

function trustedSourceVerdict({ package: pkg, policy }: ChecklistInput): Result {
  const source = pkg.source.type;
  if (isUnavailable(policy)) return manual(`source is "${source}"; ${policy.unavailable}`);
  if (!policy.allowed_sources.includes(source)) {
    return fail(
      `source "${source}" is not allowed by the tenant (allowed: ${policy.allowed_sources.join(', ') || 'none'})`,
    );
  }
  const allowed = SCOPE_CATEGORIES[policy.install_scope] ?? 'any';
  if (allowed !== 'any') {
    const category = pkg.signature.status === 'verified' ? pkg.signature.authorized_category : undefined;
    if (category === undefined || !allowed.includes(category)) {
      return fail(
        `install scope "${policy.install_scope}" admits ${allowed.join(' or ') || 'nothing'}; the package ${category === undefined ? 'has no verified category' : `is "${category}"`}`,
      );
    }
  }
  return pass(`source "${source}" is allowed; install scope "${policy.install_scope}"`);
}

function signatureVerified({ package: pkg, policy }: ChecklistInput): Result {
  const { status, key_id: keyId } = pkg.signature;
  // The same verdict as the server's Verify (core/deploy/verify.ts checkSignature): a tenant that
  // does not require signatures accepts any package, so the item passes and says so.
  if (!isUnavailable(policy) && !policy.require_signature) {
    return pass(`not required (package is ${status}${status === 'verified' ? ` by "${keyId}"` : ''})`);
  }
  if (status !== 'verified') {
    const required =
      !isUnavailable(policy) && policy.require_signature ? ' and the tenant requires signatures' : '';
    return fail(`the package is ${status}${required}`);
  }
  if (isUnavailable(policy))
    return pass(`verified by "${keyId}" (tenant trust list not readable: ${policy.unavailable})`);
  if (policy.trusted_signers.length > 0 && (keyId === undefined || !policy.trusted_signers.includes(keyId))) {
    return fail(
      `signed by "${keyId}", which the tenant does not trust (${policy.trusted_signers.join(', ')})`,
    );
  }
  return pass(
    `verified by "${keyId}"${policy.trusted_signers.length === 0 ? ' (a stage signer)' : ', a trusted signer'}`,
  );
}

function dependenciesComplete({ dependencies }: ChecklistInput): Result {
  if (isUnavailable(dependencies)) return manual(dependencies.unavailable);
  const { findings, via } = dependencies;
  if (findings.length === 0)
    return pass(via === 'plan' ? 'the plan resolves without missing packages' : 'declares no dependencies');
  const missing = findings.filter((finding) => finding.status === 'missing');
  if (missing.length > 0)
    return fail(missing.map((finding) => `${finding.dependency}: ${finding.detail}`).join('; '));
  const unknown = findings.filter((finding) => finding.status === 'unverifiable');
  if (unknown.length > 0) {
    return manual(
      `check by hand: ${unknown.map((finding) => `${finding.dependency} (${finding.detail})`).join('; ')}`,
    );
  }
  return pass(findings.map((finding) => `${finding.dependency}: ${finding.detail}`).join('; '));
}

function permissionsReasonable({ package: pkg, policy }: ChecklistInput): Result {
  if (isUnavailable(policy)) return manual(policy.unavailable);
  const requested = pkg.manifest.resource?.permission;
  const offending = permissionsBeyondCeiling(requested, policy.permission_ceiling as PermissionCeiling);
  if (offending.length > 0) return fail(`beyond the tenant's ceiling: ${offending.join(', ')}`);
  return pass('every requested permission is within the ceiling');
}

function testedInStaging({ package: pkg, staging }: ChecklistInput): Result {
  if (staging === undefined)
    return manual('no staging tenant given (--staging-tenant, optionally --staging-profile)');
  if (isUnavailable(staging)) return manual(staging.unavailable);
  const item = staging.installation;
  if (item === undefined || item.status !== 'installed' || item.unique_identifier !== pkg.unique_identifier) {
    const now = item?.unique_identifier ?? 'nothing';
    return fail(`${staging.tenant} runs ${now}, not ${pkg.unique_identifier}`);
  }
  if (item.hold !== undefined) return fail(`${staging.tenant} holds it: ${item.hold.reason}`);
  return pass(`installed on ${staging.tenant} (revision ${item.revision})`);
}

function configBackedUp({ current }: ChecklistInput): Result {
  if (isUnavailable(current)) return manual(current.unavailable);
  const { installation, lastDeployment } = current;
  if (installation === undefined || installation.status !== 'installed') {
    return pass('nothing installed yet: no config to back up (the deployment snapshots before Apply)');
  }
  if (lastDeployment === undefined)
    return fail(`no deployment record for ${installation.plugin_id}'s current revision`);
  const snapshot = lastDeployment.steps.findLast((step) => step.name === 'Snapshot');
  if (snapshot?.status === 'succeeded') {
    return pass(
      `deployment ${lastDeployment.deployment_id} backed up config (Snapshot succeeded); the next one snapshots again before Apply`,
    );
  }
  return fail(
    `deployment ${lastDeployment.deployment_id} has ${snapshot === undefined ? 'no Snapshot step' : `a ${snapshot.status} Snapshot step`}`,
  );
}
