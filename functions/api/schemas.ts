/**
 * Request and response schemas of the HTTP API. Handlers validate with them and the OpenAPI
 * document is generated from them, so the contract cannot drift from the code.
 */
import { z } from 'zod';
import { SCOPES } from '#core/api-keys.ts';
import { UpgradeRunSummarySchema } from '#core/auto-upgrade/run-summary.ts';
import {
  AutoUpgradeSettingsInputSchema,
  UPGRADE_MODES,
  UPGRADE_STRATEGIES,
} from '#core/auto-upgrade/settings.ts';
import { PLUGIN_CATEGORIES } from '#core/plugin-category.ts';
import { SOURCES, TenantPolicyPatchSchema, TenantPolicySchema } from '#core/policy.ts';
import { TENANT_ID_PATTERN } from '#core/tenant-id.ts';
import { isUniqueIdentifier } from '#core/unique-identifier.ts';

export const TenantId = z
  .string()
  .regex(TENANT_ID_PATTERN, 'lowercase letters, digits, "_" and "-", 1–63 characters');
export const KeyId = z.string().regex(/^key_[A-Za-z0-9_-]{1,40}$/, 'a key id like key_abc');
export const SignerKeyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_", "-", 1–64');
export const UniqueIdentifier = z
  .string()
  .max(300)
  .refine((value) => isUniqueIdentifier(value), 'must be author/name:version@<64 hex checksum>');
export const Author = z.string().regex(/^[a-z0-9_-]{1,64}$/);
export const PluginName = z.string().regex(/^[a-z0-9_-]{1,128}$/);

export const Limit = z.coerce.number().int().min(1).max(100).default(20);
export const Cursor = z.string().max(2048).optional();
export const ListQuery = z.strictObject({ limit: Limit, cursor: Cursor });

export const TenantParams = z.strictObject({ tenant_id: TenantId });

/** Dify's tenant (workspace) ids are UUIDs (the daemon stores them in a `uuid` column). */
export const DifyTenantId = z
  .uuid()
  .transform((value) => value.toLowerCase())
  .describe('The Dify tenant (workspace) this tenant deploys into when the runtime is a Dify plugin daemon.');
export const CreateTenantBody = z.strictObject({
  tenant_id: TenantId,
  display_name: z.string().min(1).max(200).optional(),
  dify_tenant_id: DifyTenantId.optional(),
});
export const UpdateTenantBody = z.strictObject({
  display_name: z.string().min(1).max(200).optional(),
  dify_tenant_id: DifyTenantId.nullable().optional(),
});
export const Tenant = z.object({
  tenant_id: z.string(),
  display_name: z.string().nullable(),
  dify_tenant_id: z.string().nullable(),
  created_at: z.string(),
});

export const CreateKeyBody = z.strictObject({
  scopes: z
    .array(z.enum(SCOPES as unknown as [string, ...string[]]))
    .min(1)
    .max(4)
    .refine((scopes) => new Set(scopes).size === scopes.length, 'scopes must not repeat'),
  description: z.string().max(256).optional(),
});
export const IssuedKey = z.object({
  key_id: z.string(),
  key: z.string().describe('Shown once; only its hash is stored.'),
  tenant_id: z.string().nullable(),
  scopes: z.array(z.string()),
  description: z.string().nullable(),
  created_at: z.string(),
});
export const KeyParams = z.strictObject({ tenant_id: TenantId, key_id: KeyId });
/** A key as listed: never the secret nor its hash. */
export const KeySummary = z.object({
  key_id: z.string(),
  tenant_id: z.string().nullable(),
  scopes: z.array(z.string()),
  description: z.string().nullable(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
});
export const Me = z.object({
  key_id: z.string(),
  tenant_id: z.string().nullable(),
  scopes: z.array(z.string()),
});

export const PolicyBody = TenantPolicyPatchSchema;
export const Policy = TenantPolicySchema.extend({ inherited: z.array(z.string()) });

export const CreateSignerBody = z.strictObject({
  key_id: SignerKeyId,
  public_key_pem: z.string().min(64).max(16_384),
  description: z.string().max(256).optional(),
});
export const SignerParams = z.strictObject({ key_id: SignerKeyId });
export const Signer = z.object({
  key_id: z.string(),
  public_key_pem: z.string(),
  description: z.string().nullable(),
  created_at: z.string(),
});

export const CreateUploadBody = z.strictObject({
  filename: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9._ -]+\.(difypkg|difybndl)$/, 'a plain file name ending .difypkg'),
  size: z.int().min(1),
});
export const Upload = z.object({
  upload_id: z.string(),
  url: z.string(),
  method: z.literal('PUT'),
  headers: z.record(z.string(), z.string()),
  expires_at: z.string(),
});

export const PublishBody = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('package'), upload_id: z.string().regex(/^up_[A-Za-z0-9_-]{10,40}$/) }),
  z.strictObject({
    source: z.literal('github'),
    repo: z.string().regex(/^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/, 'owner/repo'),
    release: z.string().min(1).max(255),
    asset: z.string().min(1).max(255),
  }),
  z.strictObject({ source: z.literal('marketplace'), unique_identifier: UniqueIdentifier }),
]);

export const Publisher = z.object({
  kind: z.enum(['operator', 'tenant']),
  tenant_id: z.string().nullable(),
  key_id: z.string().nullable(),
  source: z.enum([...SOURCES, 'drop']),
  published_at: z.string(),
});

export const Package = z.object({
  unique_identifier: z.string(),
  plugin_id: z.string(),
  version: z.string(),
  checksum: z.string(),
  sha256: z.string(),
  size: z.int(),
  manifest: z.record(z.string(), z.unknown()),
  signature: z.object({
    status: z.enum(['verified', 'unsigned', 'invalid']),
    key_id: z.string().optional(),
    signed_at: z.string().optional(),
    authorized_category: z.string().optional(),
  }),
  source: z.object({ type: z.enum(SOURCES) }).loose(),
  dependencies: z.array(z.unknown()),
  published_at: z.string(),
  category: z
    .enum(PLUGIN_CATEGORIES)
    .describe("Dify's category: tool > model > datasource > agent-strategy > trigger > extension."),
  publisher: Publisher.optional().describe(
    'Who catalogued the build; absent on builds catalogued before it was recorded.',
  ),
  promoted: z.object({ key_id: z.string(), promoted_at: z.string() }).optional(),
  also_published_by: z
    .array(z.string())
    .optional()
    .describe('Other tenants that published these exact bytes.'),
  superseded: z
    .array(
      z.object({
        sha256: z.string(),
        signature_status: z.enum(['verified', 'unsigned', 'invalid']),
        publisher: Publisher.nullable(),
        superseded_at: z.string(),
      }),
    )
    .optional()
    .describe('Copies of this build (same files, no valid signature) the genuine build replaced.'),
});

/** Publishing a `.difybndl`: the bundle (not catalogued itself) and every package it embeds. */
export const PublishedBundle = z.object({
  bundle: z.object({
    author: z.string(),
    name: z.string(),
    version: z.string(),
    sha256: z.string(),
    size: z.int(),
    manifest: z.record(z.string(), z.unknown()),
    dependencies: z
      .array(z.record(z.string(), z.unknown()))
      .describe(
        'marketplace/github dependencies as declared; embedded ones as {type: package, unique_identifier, path}.',
      ),
  }),
  packages: z.array(Package),
});
export const Published = z.union([Package, PublishedBundle]);

export const PackageParams = z.strictObject({ unique_identifier: UniqueIdentifier });
export const PackageReadme = z.object({
  unique_identifier: z.string(),
  markdown: z.string().describe('Untrusted author text: sanitize before rendering.'),
  truncated: z.boolean(),
});
export const PluginsQuery = ListQuery.extend({
  q: z.string().max(128).optional(),
  author: Author.optional(),
});
export const PluginSummary = z.object({
  plugin_id: z.string(),
  latest_version: z.string().nullable(),
  versions_count: z.int(),
});
export const PluginParams = z.strictObject({ author: Author, name: PluginName });
export const AuthorParams = z.strictObject({ author: Author });
export const AuthorGrantParams = z.strictObject({ author: Author, tenant_id: TenantId });
export const AuthorSignersBody = z.strictObject({ signers: z.array(SignerKeyId).max(20) });
export const AuthorGrant = z.object({
  author: z.string(),
  tenant_id: z.string(),
  granted_by: z.string(),
  granted_at: z.string(),
});
export const AuthorView = z.object({
  author: z.string(),
  reserved: z.boolean(),
  signers: z.array(z.string()),
  tenants: z.array(z.string()),
});
export const MarketplaceDownloadQuery = z.strictObject({ unique_identifier: UniqueIdentifier });

export const AutoUpgradeBody = AutoUpgradeSettingsInputSchema;
export const AutoUpgrade = z.object({
  strategy_setting: z.enum(UPGRADE_STRATEGIES),
  upgrade_time_of_day: z.int().describe('Seconds after local midnight, 0..86399.'),
  timezone: z.string().describe('IANA time zone name.'),
  upgrade_mode: z.enum(UPGRADE_MODES),
  include_plugins: z.array(z.string()),
  exclude_plugins: z.array(z.string()),
  allow_prerelease: z.boolean(),
  next_run_at: z.string().nullable().describe('Next due instant (RFC 3339 UTC); null while disabled.'),
  is_default: z.boolean().describe('True when the tenant never saved settings.'),
  updated_at: z.string().nullable(),
  warnings: z
    .array(z.object({ path: z.string(), message: z.string() }))
    .optional()
    .describe('Valid but suspicious input (PUT only), e.g. include_plugins not in the catalog.'),
});
export const UpgradeRun = UpgradeRunSummarySchema;

export const Health = z.object({
  status: z.literal('ok'),
  local: z.record(z.string(), z.unknown()).optional(),
});

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() });
}

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .loose();

// ── Deployments, installations, revisions ──────────────────────────────────────────────────────

const Ulid = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'a deployment id (ULID)');
export const PluginId = z.string().regex(/^[a-z0-9_-]{1,64}\/[a-z0-9_-]{1,128}$/, 'a plugin id author/name');

export const DeploymentParams = TenantParams.extend({ deployment_id: Ulid });
export const InstallationParams = TenantParams.extend({ author: Author, name: PluginName });

export const CreateDeploymentBody = z
  .strictObject({
    operation: z.enum(['install', 'upgrade', 'uninstall', 'rollback']),
    unique_identifier: UniqueIdentifier.optional(),
    plugin_id: PluginId.optional(),
    version: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe(
        'install/upgrade by plugin_id: a version range (`^1.2`, `1.2.3`, `*`); the workflow picks the highest catalogued build in it and records its unique identifier in the plan. Default: the highest release.',
      ),
    to_revision: z
      .int()
      .min(1)
      .optional()
      .describe('rollback: the revision to restore (default: the previous one).'),
    expected_current: UniqueIdentifier.nullable()
      .optional()
      .describe(
        'Conditional request: the identifier that must be installed now (null: nothing); 409 otherwise.',
      ),
    allow_downgrade: z
      .boolean()
      .optional()
      .describe('install/upgrade: accept a lower version than installed.'),
    config: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Plugin config for this tenant; stored sealed, never returned (revisions show its digest).'),
    force: z
      .boolean()
      .optional()
      .describe('uninstall: proceed although installed plugins depend on this one (409 otherwise).'),
    approval_timeout_seconds: z
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional()
      .describe('How long the deployment may wait for approval when the policy requires it (default 24 h).'),
  })
  .superRefine((body, ctx) => {
    const need = (field: 'unique_identifier' | 'plugin_id') => {
      if (body[field] === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `required for operation "${body.operation}"`,
        });
      }
    };
    const forbid = (field: 'to_revision' | 'unique_identifier' | 'force' | 'version') => {
      if (body[field] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: `not used by operation "${body.operation}"` });
      }
    };
    if (body.operation === 'install' || body.operation === 'upgrade') {
      // An exact build, or a plugin (and optionally a range) for the workflow to choose in.
      if (body.plugin_id === undefined) need('unique_identifier');
      if (body.unique_identifier !== undefined) forbid('version');
      forbid('to_revision');
    } else {
      need('plugin_id');
      forbid('unique_identifier');
      forbid('version');
      if (body.operation === 'uninstall') forbid('to_revision');
    }
    if (body.operation !== 'uninstall') forbid('force');
  });

export const DeploymentsQuery = ListQuery.extend({
  status: z
    .enum(['pending', 'running', 'awaiting_approval', 'succeeded', 'failed', 'rolled_back', 'rejected'])
    .optional(),
});
export const DecisionBody = z.strictObject({ comment: z.string().max(1000).optional() }).default({});

// ── Plans (dry run with dependencies) ──────────────────────────────────────────────────────────

export const CreatePlanBody = z.strictObject({
  install: z
    .array(z.string().min(1).max(300))
    .min(1)
    .max(50)
    .describe('Unique identifiers (an exact build) or "author/name@range" (highest satisfying version).'),
  allow_prerelease: z.boolean().optional().describe('Let ranges match pre-releases they do not name.'),
  fetch_missing: z
    .boolean()
    .optional()
    .describe(
      'Fetch missing dependencies from their sources and publish them to the catalog (needs packages:write). Default false: a plan writes nothing.',
    ),
});
const CheckVerdict = z.object({
  status: z.enum(['pass', 'fail']),
  detail: z.string(),
  type: z.string().optional().describe('The problem type a deployment would fail with.'),
});
export const Plan = z.object({
  steps: z.array(
    z.object({
      plugin_id: z.string(),
      from: z.string().nullable(),
      to: z.string(),
      unique_identifier: z.string(),
      action: z.enum(['install', 'upgrade', 'keep', 'downgrade']),
    }),
  ),
  order: z.array(z.string()).describe('Unique identifiers in install order, dependencies first.'),
  checks: z.array(
    z.object({
      unique_identifier: z.string(),
      ok: z.boolean(),
      publisher: Publisher.nullable().describe('Who published the build the plan would install.'),
      signature: CheckVerdict,
      permissions: CheckVerdict,
      platform: CheckVerdict,
      dependencies: CheckVerdict,
      integrity: CheckVerdict,
      source: CheckVerdict,
      install_scope: CheckVerdict,
      downgrade: CheckVerdict,
    }),
  ),
  fetched: z
    .array(z.object({ unique_identifier: z.string(), from: z.string() }))
    .describe('Missing dependencies fetched from their sources and published to resolve this plan.'),
});

const DriftSchema = z.object({
  plugin_id: z.string(),
  kind: z.enum(['installed-behind-back', 'changed-behind-back', 'removed-behind-back']),
  recorded: z.string().nullable(),
  observed: z.string().nullable(),
});

export const RuntimeSyncResult = z.object({
  items: z.array(
    z.object({
      plugin_id: z.string(),
      unique_identifier: z.string().nullable(),
      revision: z.int(),
      changed: z.boolean(),
      in_catalog: z.boolean(),
    }),
  ),
});

const PlanStepSchema = z.object({
  plugin_id: z.string(),
  action: z.enum(['install', 'upgrade', 'downgrade', 'keep', 'uninstall', 'reconfigure']),
  from: z.object({
    unique_identifier: z.string().nullable(),
    version: z.string().nullable(),
    revision: z.int(),
  }),
  to: z.object({
    unique_identifier: z.string().nullable(),
    version: z.string().nullable(),
    package_key: z.string().nullable(),
    sha256: z.string().nullable(),
  }),
  restore_revision: z.int().optional(),
});

export const Deployment = z.object({
  deployment_id: z.string(),
  tenant_id: z.string(),
  operation: z.enum(['install', 'upgrade', 'uninstall', 'rollback', 'auto-upgrade']),
  actor: z.string(),
  target: z.object({
    unique_identifier: z.string().optional(),
    plugin_id: z.string().optional(),
    to_revision: z.int().optional(),
  }),
  status: z.enum([
    'pending',
    'running',
    'awaiting_approval',
    'succeeded',
    'failed',
    'rolled_back',
    'rejected',
  ]),
  steps: z.array(
    z.object({
      name: z.string(),
      status: z.enum(['running', 'succeeded', 'failed']),
      started_at: z.string(),
      ended_at: z.string().optional(),
      error: Problem.optional(),
    }),
  ),
  plan: z.object({ steps: z.array(PlanStepSchema), order: z.array(z.string()) }).optional(),
  error: Problem.optional(),
  approval: z
    .object({
      decision: z.enum(['approved', 'rejected', 'timed_out']),
      by: z.string().optional(),
      comment: z.string().optional(),
      at: z.string(),
    })
    .optional(),
  expected_current: z.string().nullable().optional(),
  allow_downgrade: z.boolean(),
  force: z.boolean().optional(),
  has_config: z.boolean(),
  config_digest: z.string().optional(),
  approval_timeout_seconds: z.int(),
  drift: z.array(DriftSchema).optional(),
  created_at: z.string(),
  updated_at: z.string(),
});

const HoldSchema = z.object({
  unique_identifier: z.string(),
  reason: z.string(),
  set_at: z.string(),
  deployment_id: z.string().optional(),
});

export const Installation = z.object({
  plugin_id: z.string(),
  unique_identifier: z.string().nullable(),
  version: z.string().nullable(),
  revision: z.int(),
  status: z.enum(['installed', 'uninstalled']),
  hold: HoldSchema.optional(),
  drift: DriftSchema.extend({ detected_at: z.string(), deployment_id: z.string().optional() })
    .optional()
    .describe('The Dify plugin daemon ran something else than this record when last compared.'),
  not_in_catalog: z.boolean().optional(),
  deployment_id: z.string().optional().describe('The deployment holding the plugin now, if any.'),
  config_digest: z.string().optional(),
  updated_at: z.string(),
});

export const Revision = z.object({
  revision: z.int(),
  plugin_id: z.string(),
  unique_identifier: z.string().nullable(),
  previous_unique_identifier: z.string().nullable(),
  version: z.string().nullable(),
  operation: z.enum(['install', 'upgrade', 'uninstall', 'rollback', 'auto-upgrade', 'adopted']),
  actor: z.string(),
  deployment_id: z.string(),
  config_digest: z.string().nullable(),
  outcome: z.enum(['pending', 'succeeded', 'failed', 'restored', 'unverified']),
  created_at: z.string(),
  finalized_at: z.string().optional(),
});

// ── Auto-upgrade sweep (operator) ──────────────────────────────────────────────────────────────
export const SweepBody = z
  .strictObject({
    at: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('Sweep as if the clock were this instant (default: now); the window ending at or before it.'),
  })
  .default({});
export const SweepRun = z.object({
  execution: z.string().describe('Name of the sweep execution (sweep-<window start>[-rerun-…]).'),
  status: z.enum(['succeeded', 'running']),
  run_at: z.string().optional(),
  window: z.object({ start: z.string(), end: z.string(), slot: z.int() }).optional(),
  checked: z.int().optional(),
  due: z.int().optional(),
  upgraded: z.int().optional(),
  skipped: z.int().optional(),
  skipped_by_reason: z.record(z.string(), z.int()).optional(),
  failed: z.int().optional(),
  halted: z.int().optional(),
  halted_builds: z.array(z.string()).optional(),
  started_at: z.string().optional(),
  finished_at: z.string().optional(),
});
export const RolloutParams = z.strictObject({ unique_identifier: UniqueIdentifier });
export const Rollout = z.object({
  unique_identifier: z.string(),
  plugin_id: z.string(),
  version: z.string(),
  status: z.enum(['wave', 'open', 'halted']),
  percent: z.number(),
  failure_threshold: z.number(),
  wave_tenants: z.array(z.string()),
  wave_deployments: z.record(z.string(), z.string()),
  wave_result: z.object({ attempted: z.int(), failed: z.int() }).optional(),
  halt: z.object({ at: z.string(), by: z.string(), reason: z.string() }).optional(),
  resumed: z.object({ at: z.string(), by: z.string() }).optional(),
  created_at: z.string(),
});
