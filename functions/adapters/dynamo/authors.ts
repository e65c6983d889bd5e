/**
 * Author ownership (docs/security.md): which tenants the operator granted an author to, and which
 * signers it bound to an author. A grant is written under the author (to list its tenants) and
 * under the tenant (to list its authors) in one transaction.
 */
import { DeleteCommand, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { documentClientInstance, mainTableName } from './client.ts';
import { keys } from './keys.ts';
import { queryPrefixPage } from './query-page.ts';

export interface AuthorGrant {
  author: string;
  tenant_id: string;
  granted_by: string;
  granted_at: string;
}

export interface AuthorView {
  author: string;
  reserved: boolean;
  signers: string[];
  tenants: string[];
}

export async function grantAuthor(grant: AuthorGrant): Promise<void> {
  const item = { type: 'author_grant', ...grant };
  await documentClientInstance().send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Put: {
            TableName: mainTableName(),
            Item: { ...keys.authorGrant(grant.author, grant.tenant_id), ...item },
          },
        },
        {
          Put: {
            TableName: mainTableName(),
            Item: { ...keys.tenantAuthor(grant.tenant_id, grant.author), ...item },
          },
        },
      ],
    }),
  );
}

export async function revokeAuthor(author: string, tenantId: string): Promise<void> {
  await documentClientInstance().send(
    new TransactWriteCommand({
      TransactItems: [
        { Delete: { TableName: mainTableName(), Key: keys.authorGrant(author, tenantId) } },
        { Delete: { TableName: mainTableName(), Key: keys.tenantAuthor(tenantId, author) } },
      ],
    }),
  );
}

export async function isAuthorGrantedTo(author: string, tenantId: string): Promise<boolean> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.tenantAuthor(tenantId, author) }),
  );
  return Item !== undefined;
}

/** Binds signers to an author (replacing the previous list); an empty list unbinds. */
export async function bindAuthorSigners(author: string, signers: string[], now: Date): Promise<void> {
  const client = documentClientInstance();
  if (signers.length === 0) {
    await client.send(new DeleteCommand({ TableName: mainTableName(), Key: keys.authorSigners(author) }));
    return;
  }
  await client.send(
    new PutCommand({
      TableName: mainTableName(),
      Item: {
        ...keys.authorSigners(author),
        type: 'author_signers',
        author,
        signers,
        updated_at: now.toISOString(),
      },
    }),
  );
}

export async function findAuthorSigners(author: string): Promise<string[]> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.authorSigners(author) }),
  );
  return (Item?.signers as string[] | undefined) ?? [];
}

/** Grantees of an author (at most 1000: authors are granted by hand, one tenant at a time). */
export async function listAuthorTenants(author: string): Promise<string[]> {
  const tenants: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await queryPrefixPage({
      partition: keys.authorGrantsPartition(author),
      scope: `author-grants:${author}`,
      limit: 100,
      cursor,
    });
    tenants.push(...page.items.map((item) => item.tenant_id as string));
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined && tenants.length < 1000);
  return tenants;
}
