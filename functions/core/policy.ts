/**
 * Tenant policy: what a tenant accepts. Stored fields override the stage defaults one by one, so
 * an unset field follows the stage (and a stage change reaches every tenant that did not pin it).
 */
import { z } from 'zod';
import { ProblemError } from './errors.ts';

export const SOURCES = ['package', 'github', 'marketplace'] as const;
export type PackageSource = (typeof SOURCES)[number];

export const INSTALL_SCOPES = ['none', 'official_only', 'official_and_specific_partners', 'all'] as const;

const ModelPermission = z.strictObject({
  enabled: z.boolean().optional(),
  llm: z.boolean().optional(),
  text_embedding: z.boolean().optional(),
  rerank: z.boolean().optional(),
  tts: z.boolean().optional(),
  speech2text: z.boolean().optional(),
  moderation: z.boolean().optional(),
});
const Enabled = z.strictObject({ enabled: z.boolean().optional() });

/** The permission ceiling has the manifest's permission shape; `storage.size` is a maximum. */
export const PermissionCeilingSchema = z.strictObject({
  tool: Enabled.optional(),
  model: ModelPermission.optional(),
  node: Enabled.optional(),
  endpoint: Enabled.optional(),
  app: Enabled.optional(),
  storage: z
    .strictObject({ enabled: z.boolean().optional(), size: z.int().min(1024).max(1073741824).optional() })
    .optional(),
});
export type PermissionCeiling = z.infer<typeof PermissionCeilingSchema>;

const VERSION = /^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$/;

export const TenantPolicySchema = z.strictObject({
  require_signature: z.boolean(),
  trusted_signers: z.array(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/)).max(50),
  allowed_sources: z.array(z.enum(SOURCES)).max(3),
  install_scope: z.enum(INSTALL_SCOPES),
  permission_ceiling: PermissionCeilingSchema,
  platform_version: z.string().regex(VERSION, 'must look like 1.9.0'),
  approval_required: z.boolean(),
  canary: z
    .strictObject({ percent: z.number().min(1).max(100), failure_threshold: z.number().min(0).max(100) })
    .nullable(),
  /**
   * What a deployment does when the Dify plugin daemon runs something else than pluginops
   * recorded (a change made in the Dify console): `fail` stops it before anything changes,
   * `adopt` records what runs as a new `adopted` revision and deploys from there.
   */
  on_drift: z.enum(['adopt', 'fail']),
});
export type TenantPolicy = z.infer<typeof TenantPolicySchema>;

/** What a PUT may carry: any subset; `null` resets a field to the stage default. */
export const TenantPolicyPatchSchema = z.strictObject(
  Object.fromEntries(
    Object.entries(TenantPolicySchema.shape).map(([name, schema]) => [name, schema.nullable().optional()]),
  ) as { [K in keyof TenantPolicy]: z.ZodOptional<z.ZodNullable<(typeof TenantPolicySchema.shape)[K]>> },
);
export type TenantPolicyPatch = z.infer<typeof TenantPolicyPatchSchema>;

/** Everything a plugin may ask for: the default ceiling. */
export const FULL_PERMISSION_CEILING: PermissionCeiling = {
  tool: { enabled: true },
  model: {
    enabled: true,
    llm: true,
    text_embedding: true,
    rerank: true,
    tts: true,
    speech2text: true,
    moderation: true,
  },
  node: { enabled: true },
  endpoint: { enabled: true },
  app: { enabled: true },
  storage: { enabled: true, size: 1073741824 },
};

/**
 * The policy of a tenant that set nothing: the stage's platform version, approval default and
 * canary (none unless the stage sets one).
 */
export function stageDefaultPolicy(options: {
  platformVersion: string;
  approvalRequired: boolean;
  canary?: TenantPolicy['canary'] | undefined;
}): TenantPolicy {
  return {
    require_signature: false,
    trusted_signers: [],
    allowed_sources: [...SOURCES],
    install_scope: 'all',
    permission_ceiling: FULL_PERMISSION_CEILING,
    platform_version: options.platformVersion,
    approval_required: options.approvalRequired,
    canary: options.canary ?? null,
    on_drift: 'fail',
  };
}

/** Overlays stored tenant fields on the stage defaults. */
export function effectivePolicy(
  defaults: TenantPolicy,
  stored: Partial<TenantPolicy> | undefined,
): TenantPolicy {
  const merged: Record<string, unknown> = { ...defaults };
  for (const [name, value] of Object.entries(stored ?? {})) {
    if (value !== undefined && value !== null && name in defaults) merged[name] = value;
  }
  return merged as TenantPolicy;
}

/** Applies a PUT body to the stored fields: `null` drops the override. */
export function applyPolicyPatch(
  stored: Partial<TenantPolicy>,
  patch: TenantPolicyPatch,
): Partial<TenantPolicy> {
  const next: Record<string, unknown> = { ...stored };
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete next[name];
    else if (value !== undefined) next[name] = value;
  }
  return next as Partial<TenantPolicy>;
}

export interface PublishCheck {
  source: PackageSource;
  signature: { status: 'verified' | 'unsigned' | 'invalid'; keyId?: string | undefined };
}

/**
 * Publish-time policy: the source must be allowed and, when the tenant requires signatures, the
 * package must verify with one of its trusted signers (any stage signer when the list is empty).
 */
export function assertPublishAllowed(policy: TenantPolicy, check: PublishCheck): void {
  if (!policy.allowed_sources.includes(check.source)) {
    throw new ProblemError(
      'source-not-allowed',
      `This tenant's policy does not allow packages from source "${check.source}" (allowed: ${policy.allowed_sources.join(', ') || 'none'}).`,
    );
  }
  if (!policy.require_signature) return;
  if (check.signature.status === 'unsigned') {
    throw new ProblemError(
      'signature-required',
      'This tenant requires signed packages; the package is unsigned.',
    );
  }
  const trusted =
    check.signature.status === 'verified' &&
    (policy.trusted_signers.length === 0 ||
      (check.signature.keyId !== undefined && policy.trusted_signers.includes(check.signature.keyId)));
  if (!trusted) {
    throw new ProblemError(
      'signature-invalid',
      'The package signature does not verify with any signer this tenant trusts.',
    );
  }
}
