/**
 * Schemas of the Dify marketplace protocol routes (`/marketplace/{token}/api/v1/…`) and of their
 * operator routes (tokens, deprecations). The answers mirror Dify's client models
 * (langgenius/dify `api/core/plugin/entities/marketplace.py`).
 */
import { z } from 'zod';
import { Author, Cursor, Limit, PluginName, UniqueIdentifier } from './schemas.ts';

/** The path segment that carries the marketplace token (or `public`). */
export const MarketplaceToken = z.string().min(1).max(128);
export const MarketplaceParams = z.strictObject({ token: MarketplaceToken });
export const MarketplacePluginParams = MarketplaceParams.extend({ org: Author, name: PluginName });
export const MarketplaceVersionParams = MarketplacePluginParams.extend({
  version: z.string().min(1).max(64),
});
export const MarketplaceDownloadByIdQuery = z.strictObject({ unique_identifier: UniqueIdentifier });

export const MarketplaceBatchBody = z.looseObject({
  plugin_ids: z.array(z.string().max(200)).max(256),
});
export const MarketplaceInstallCountBody = z.looseObject({ unique_identifier: UniqueIdentifier });

const I18n = z.record(z.string(), z.string());
export const MarketplacePluginDeclarationSchema = z.object({
  name: z.string(),
  org: z.string(),
  plugin_id: z.string(),
  icon: z.string(),
  label: I18n,
  brief: I18n,
  resource: z.object({ memory: z.int(), permission: z.record(z.string(), z.unknown()).optional() }),
  latest_version: z.string(),
  latest_package_identifier: z.string(),
  status: z.enum(['active', 'deleted']),
  deprecated_reason: z.string(),
  alternative_plugin_id: z.string(),
});
export const MarketplaceBatchAnswer = z.object({
  code: z.int(),
  msg: z.string(),
  data: z.object({ plugins: z.array(MarketplacePluginDeclarationSchema) }),
});
export const MarketplaceSnapshotAnswer = z.object({
  plugins: z.array(
    z.object({
      org: z.string(),
      name: z.string(),
      plugin_id: z.string(),
      latest_version: z.string(),
      latest_package_identifier: z.string(),
      latest_package_url: z.string(),
    }),
  ),
  metadata: z.object({ snapshot_updated_at: z.string(), plugin_count: z.int() }),
});
export const MarketplaceInstallCountAnswer = z.object({
  code: z.int(),
  msg: z.string(),
  data: z.object({ unique_identifier: z.string(), install_count: z.int() }),
});

export const CreateMarketplaceTokenBody = z.strictObject({
  description: z.string().min(1).max(200).optional(),
});
export const MarketplaceTokenRecord = z.object({
  token_id: z.string(),
  description: z.string().nullable(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
});
export const IssuedMarketplaceToken = MarketplaceTokenRecord.extend({
  token: z.string().describe('Shown once.'),
  base_path: z.string().describe('Append to the API URL to get the MARKETPLACE_API_URL for Dify.'),
});
export const MarketplaceTokenParams = z.strictObject({
  token_id: z.string().regex(/^mkt_[A-Za-z0-9_-]{1,40}$/, 'a token id like mkt_abc'),
});
export const MarketplaceTokensQuery = z.strictObject({ limit: Limit, cursor: Cursor });

export const DeprecationParams = z.strictObject({ author: Author, name: PluginName });
export const DeprecationBody = z.strictObject({
  reason: z.string().min(1).max(1024),
  alternative_plugin_id: z
    .string()
    .regex(/^[a-z0-9_-]{1,64}\/[a-z0-9_-]{1,128}$/, 'must be a plugin id author/name')
    .optional(),
});
export const Deprecation = z.object({
  plugin_id: z.string(),
  reason: z.string(),
  alternative_plugin_id: z.string(),
  deprecated_at: z.string(),
});

/** `GET /v1/packages/{unique_identifier}/readmes`. */
export const PackageReadmes = z.object({
  unique_identifier: z.string(),
  readmes: z.record(z.string(), z.string()).describe('Markdown by language: en_US is README.md.'),
});
