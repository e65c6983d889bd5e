/**
 * Marketplace state: read-only marketplace tokens (stored twice, by hash for the lookup on every
 * request and by id for listing and revocation, like API keys), operator deprecations of plugins,
 * and install counts per build.
 */
import { randomBytes } from 'node:crypto';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { NotFoundError } from '#core/errors.ts';
import type { PluginDeprecation } from '#core/marketplace/declaration.ts';
import { formatMarketplaceToken, hashMarketplaceToken } from '#core/marketplace/token.ts';
import type { Page } from '#core/page.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { keys } from './keys.ts';
import { queryPrefixPage } from './query-page.ts';

export interface MarketplaceTokenRecord {
  token_id: string;
  description: string | null;
  created_at: string;
  revoked_at: string | null;
}

/** Issues a token; the raw token is returned here only. */
export async function issueMarketplaceToken(
  description: string | null,
  now: Date,
): Promise<MarketplaceTokenRecord & { token: string }> {
  const token = formatMarketplaceToken(randomBytes(32));
  const tokenHash = hashMarketplaceToken(token);
  const record: MarketplaceTokenRecord = {
    token_id: `mkt_${randomBytes(9).toString('base64url')}`,
    description,
    created_at: now.toISOString(),
    revoked_at: null,
  };
  // No `revoked_at` attribute until revocation: `if_not_exists` would keep a stored null.
  const { revoked_at: _notRevoked, ...stored } = record;
  const item = { type: 'marketplace_token', ...stored, token_hash: tokenHash };
  await documentClientInstance().send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Put: {
            TableName: mainTableName(),
            Item: { ...keys.marketplaceTokenByHash(tokenHash), ...item },
            ConditionExpression: 'attribute_not_exists(PK)',
          },
        },
        { Put: { TableName: mainTableName(), Item: { ...keys.marketplaceToken(record.token_id), ...item } } },
      ],
    }),
  );
  return { ...record, token };
}

/** True when the token exists and is not revoked (a consistent read: revocation is immediate). */
export async function isMarketplaceTokenValid(token: string): Promise<boolean> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({
      TableName: mainTableName(),
      Key: keys.marketplaceTokenByHash(hashMarketplaceToken(token)),
      ConsistentRead: true,
    }),
  );
  return Item !== undefined && !Item.revoked_at;
}

export async function listMarketplaceTokens(
  limit: number,
  cursor: string | undefined,
): Promise<Page<MarketplaceTokenRecord>> {
  const page = await queryPrefixPage({
    partition: keys.marketplaceTokensPartition(),
    scope: 'marketplace-tokens',
    limit,
    cursor,
  });
  return {
    items: page.items.map((item) => ({
      token_id: item.token_id as string,
      description: (item.description as string | null | undefined) ?? null,
      created_at: item.created_at as string,
      revoked_at: (item.revoked_at as string | null | undefined) ?? null,
    })),
    next_cursor: page.next_cursor,
  };
}

/** Revokes a token for every later request (both records in one transaction). */
export async function revokeMarketplaceToken(tokenId: string, now: Date): Promise<void> {
  const client = documentClientInstance();
  const { Item } = await client.send(
    new GetCommand({ TableName: mainTableName(), Key: keys.marketplaceToken(tokenId), ConsistentRead: true }),
  );
  if (Item === undefined) throw new NotFoundError(`Marketplace token "${tokenId}" does not exist.`);
  await client.send(
    new TransactWriteCommand({
      TransactItems: [
        keys.marketplaceToken(tokenId),
        keys.marketplaceTokenByHash(Item.token_hash as string),
      ].map((Key) => ({
        Update: {
          TableName: mainTableName(),
          Key,
          UpdateExpression: 'SET revoked_at = if_not_exists(revoked_at, :now)',
          ExpressionAttributeValues: { ':now': now.toISOString() },
        },
      })),
    }),
  );
}

export async function putDeprecation(deprecation: PluginDeprecation): Promise<PluginDeprecation> {
  await documentClientInstance().send(
    new PutCommand({
      TableName: mainTableName(),
      Item: { ...keys.pluginDeprecation(deprecation.plugin_id), type: 'deprecation', ...deprecation },
    }),
  );
  return deprecation;
}

export async function deleteDeprecation(pluginId: string): Promise<void> {
  await documentClientInstance().send(
    new DeleteCommand({ TableName: mainTableName(), Key: keys.pluginDeprecation(pluginId) }),
  );
}

export async function findDeprecation(pluginId: string): Promise<PluginDeprecation | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.pluginDeprecation(pluginId) }),
  );
  if (Item === undefined) return undefined;
  return {
    plugin_id: Item.plugin_id as string,
    reason: Item.reason as string,
    alternative_plugin_id: (Item.alternative_plugin_id as string | undefined) ?? '',
    deprecated_at: Item.deprecated_at as string,
  };
}

/** Counts one install of a build (Dify's `record_install_plugin_event`). */
export async function countInstall(uniqueIdentifier: string): Promise<number> {
  const { Attributes } = await documentClientInstance().send(
    new UpdateCommand({
      TableName: mainTableName(),
      Key: keys.installCount(uniqueIdentifier),
      UpdateExpression: 'SET #type = :type, unique_identifier = :uid ADD install_count :one',
      ExpressionAttributeNames: { '#type': 'type' },
      ExpressionAttributeValues: { ':type': 'install_count', ':uid': uniqueIdentifier, ':one': 1 },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return (Attributes?.install_count as number | undefined) ?? 0;
}

export async function findInstallCount(uniqueIdentifier: string): Promise<number> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.installCount(uniqueIdentifier) }),
  );
  return (Item?.install_count as number | undefined) ?? 0;
}
