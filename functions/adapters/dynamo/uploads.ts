/** Presigned upload sessions: who asked, for what size, until when. */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { documentClientInstance, mainTableName } from './client.ts';
import { keys } from './keys.ts';

export interface UploadSession {
  upload_id: string;
  tenant_id: string | null;
  key_id: string;
  filename: string;
  size: number;
  object_key: string;
  created_at: string;
  expires_at: string;
}

export async function createUploadSession(session: UploadSession): Promise<void> {
  await documentClientInstance().send(
    new PutCommand({
      TableName: mainTableName(),
      Item: {
        ...keys.upload(session.upload_id),
        type: 'upload',
        ...session,
        // Sessions are kept a day past their URL expiry so late publish calls get a clear answer.
        expires_at_epoch: Math.floor(Date.parse(session.expires_at) / 1000) + 86_400,
      },
      ConditionExpression: 'attribute_not_exists(PK)',
    }),
  );
}

export async function findUploadSession(uploadId: string): Promise<UploadSession | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.upload(uploadId) }),
  );
  if (Item === undefined) return undefined;
  const { PK: _pk, SK: _sk, type: _type, expires_at_epoch: _ttl, ...session } = Item;
  return session as UploadSession;
}
