import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError } from '#core/errors.ts';
import type { Page } from '#core/page.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { isConditionalFailure, putIfAbsent } from './conditions.ts';
import { keys } from './keys.ts';
import { queryPrefixPage } from './query-page.ts';

export interface Signer {
  key_id: string;
  public_key_pem: string;
  description: string | null;
  created_at: string;
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
  const page = await queryPrefixPage({ partition: keys.signersPartition(), scope: 'signers', limit, cursor });
  return { items: page.items.map(toSigner), next_cursor: page.next_cursor };
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

/**
 * Removes a trusted signer: packages signed only by it no longer verify at the next publish or
 * deploy check (already catalogued packages keep their recorded signature status).
 */
export async function deleteSigner(keyId: string): Promise<void> {
  try {
    await documentClientInstance().send(
      new DeleteCommand({
        TableName: mainTableName(),
        Key: keys.signer(keyId),
        ConditionExpression: 'attribute_exists(PK)',
      }),
    );
  } catch (error) {
    if (isConditionalFailure(error)) throw new NotFoundError(`Signer "${keyId}" does not exist.`);
    throw error;
  }
}

export async function findSigner(keyId: string): Promise<Signer | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.signer(keyId) }),
  );
  return Item === undefined ? undefined : toSigner(Item);
}
