/**
 * API keys. Each key is written twice in one transaction: under its hash (the lookup on every
 * request) and under its owner (so it can be listed and revoked by id). Only the hash is stored.
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { formatApiKey, hashApiKey, SCOPES, type Scope } from '#core/api-keys.ts';
import type { Caller } from '#core/caller.ts';
import { NotFoundError } from '#core/errors.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { isConditionalFailure } from './conditions.ts';
import { keys } from './keys.ts';

export interface IssuedKey {
  key_id: string;
  key: string;
  tenant_id: string | null;
  scopes: Scope[];
  description: string | null;
  created_at: string;
}

function newKeyId(): string {
  return `key_${randomBytes(9).toString('base64url')}`;
}

async function storeKey(
  rawKey: string,
  record: Omit<IssuedKey, 'key'>,
  options: { failIfExists: boolean },
): Promise<void> {
  const keyHash = hashApiKey(rawKey);
  const common = { type: 'api_key', ...record, key_hash: keyHash };
  await documentClientInstance().send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Put: {
            TableName: mainTableName(),
            Item: { ...keys.keyByHash(keyHash), ...common },
            ...(options.failIfExists ? { ConditionExpression: 'attribute_not_exists(PK)' } : {}),
          },
        },
        {
          Put: {
            TableName: mainTableName(),
            Item: { ...keys.ownedKey(record.tenant_id, record.key_id), ...common },
          },
        },
      ],
    }),
  );
}

export async function issueKey(
  tenantId: string | null,
  scopes: Scope[],
  description: string | null,
  now: Date,
): Promise<IssuedKey> {
  const key = formatApiKey(randomBytes(32));
  const record = {
    key_id: newKeyId(),
    tenant_id: tenantId,
    scopes,
    description,
    created_at: now.toISOString(),
  };
  await storeKey(key, record, { failIfExists: true });
  return { ...record, key };
}

/**
 * Registers a key chosen outside (the local bootstrap key, or one from a secret store) as an
 * operator key. Idempotent: registering the same key again leaves the existing record alone.
 */
export async function registerOperatorKey(rawKey: string, description: string): Promise<void> {
  const existing = await findCaller(rawKey);
  if (existing !== undefined) return;
  const record = {
    key_id: `key_op_${hashApiKey(rawKey).slice(0, 12)}`,
    tenant_id: null,
    scopes: [...SCOPES],
    description,
    created_at: new Date().toISOString(),
  };
  try {
    await storeKey(rawKey, record, { failIfExists: true });
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
  }
}

/** Resolves a presented key to its caller; unknown or revoked keys resolve to `undefined`. */
export async function findCaller(rawKey: string): Promise<Caller | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({
      TableName: mainTableName(),
      Key: keys.keyByHash(hashApiKey(rawKey)),
      ConsistentRead: true,
    }),
  );
  if (Item === undefined || Item.revoked_at) return undefined;
  return { keyId: Item.key_id, tenantId: Item.tenant_id ?? null, scopes: Item.scopes ?? [] };
}

/** Revokes a tenant's key: both records are marked in one transaction, effective immediately. */
export async function revokeKey(tenantId: string, keyId: string, now: Date): Promise<void> {
  const client = documentClientInstance();
  const { Item } = await client.send(
    new GetCommand({ TableName: mainTableName(), Key: keys.ownedKey(tenantId, keyId), ConsistentRead: true }),
  );
  if (Item === undefined) throw new NotFoundError(`Key "${keyId}" does not exist.`);
  const revokedAt = now.toISOString();
  await client.send(
    new TransactWriteCommand({
      TransactItems: [keys.ownedKey(tenantId, keyId), keys.keyByHash(Item.key_hash as string)].map((Key) => ({
        Update: {
          TableName: mainTableName(),
          Key,
          UpdateExpression: 'SET revoked_at = if_not_exists(revoked_at, :now)',
          ExpressionAttributeValues: { ':now': revokedAt },
        },
      })),
    }),
  );
}
