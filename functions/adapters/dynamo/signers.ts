/** Trusted signing keys of the stage (public keys only). */
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '#core/errors.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { putIfAbsent } from './conditions.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { keys } from './keys.ts';

export interface Signer {
  key_id: string;
  public_key_pem: string;
  description: string | null;
  created_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export async function createSigner(signer: Signer): Promise<Signer> {
  const created = await putIfAbsent({ ...keys.signer(signer.key_id), type: 'signer', ...signer });
  if (!created) throw new ConflictError(`Signer "${signer.key_id}" already exists.`);
  return signer;
}

function toSigner(item: Record<string, unknown>): Signer {
  return {
    key_id: item.key_id as string,
    public_key_pem: item.public_key_pem as string,
    description: (item.description as string | null) ?? null,
    created_at: item.created_at as string,
  };
}

export async function listSigners(limit: number, cursor: string | undefined): Promise<Page<Signer>> {
  const partition = keys.signersPartition();
  const scope = 'signers';
  const result = await documentClientInstance().send(
    new QueryCommand({
      TableName: mainTableName(),
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': partition.PK, ':prefix': partition.skPrefix },
      Limit: limit,
      ExclusiveStartKey: decodeCursor(cursor, scope),
    }),
  );
  return {
    items: (result.Items ?? []).map(toSigner),
    next_cursor: encodeCursor(result.LastEvaluatedKey, scope),
  };
}

/** Every trusted signer: the keyring signatures are verified against. */
export async function loadAllSigners(): Promise<Signer[]> {
  const all: Signer[] = [];
  let cursor: string | undefined;
  do {
    const page = await listSigners(100, cursor);
    all.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return all;
}
