/**
 * Request and response schemas of the HTTP API. Handlers validate with them and the OpenAPI
 * document is generated from them, so the contract cannot drift from the code.
 */
import { z } from 'zod';
import { SCOPES } from '#core/api-keys.ts';
import { SOURCES, TenantPolicyPatchSchema, TenantPolicySchema } from '#core/policy.ts';
import { isUniqueIdentifier } from '#core/unique-identifier.ts';

export const TenantId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, "_" and "-", 1–63 characters');
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

export const CreateTenantBody = z.strictObject({
  tenant_id: TenantId,
  display_name: z.string().min(1).max(200).optional(),
});
export const Tenant = z.object({
  tenant_id: z.string(),
  display_name: z.string().nullable(),
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

export const PolicyBody = TenantPolicyPatchSchema;
export const Policy = TenantPolicySchema.extend({ inherited: z.array(z.string()) });

export const CreateSignerBody = z.strictObject({
  key_id: SignerKeyId,
  public_key_pem: z.string().min(64).max(16_384),
  description: z.string().max(256).optional(),
});
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
});

export const PackageParams = z.strictObject({ unique_identifier: UniqueIdentifier });
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
export const MarketplaceDownloadQuery = z.strictObject({ unique_identifier: UniqueIdentifier });

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
