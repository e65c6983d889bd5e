/** Presigned upload sessions: who asked, for what size, until when. */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClientInstance, mainTableName } from './client.ts';
import { isConditionalFailure } from './conditions.ts';
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
  const {
    PK: _pk,
    SK: _sk,
    type: _type,
    expires_at_epoch: _ttl,
    claim: _claim,
    claimed_at: _claimedAt,
    published_as: _publishedAs,
    ...session
  } = Item;
  return session as UploadSession;
}

/**
 * Claims an upload for one publish (docs/security.md, single-use uploads). The claim fails when
 * the upload was published already, or another publish holds a claim younger than `staleBefore`
 * (a claim older than that belongs to a publish that died, and may be taken over).
 */
export async function claimUpload(
  uploadId: string,
  claim: string,
  now: Date,
  staleBefore: Date,
): Promise<{ claimed: true } | { claimed: false; published_as?: string }> {
  try {
    await documentClientInstance().send(
      new UpdateCommand({
        TableName: mainTableName(),
        Key: keys.upload(uploadId),
        UpdateExpression: 'SET claim = :claim, claimed_at = :now',
        ConditionExpression:
          'attribute_exists(PK) AND attribute_not_exists(published_as) AND (attribute_not_exists(claim) OR claimed_at < :stale)',
        ExpressionAttributeValues: {
          ':claim': claim,
          ':now': now.toISOString(),
          ':stale': staleBefore.toISOString(),
        },
      }),
    );
    return { claimed: true };
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const { Item } = await documentClientInstance().send(
      new GetCommand({ TableName: mainTableName(), Key: keys.upload(uploadId) }),
    );
    const publishedAs = Item?.published_as as string | undefined;
    return publishedAs === undefined ? { claimed: false } : { claimed: false, published_as: publishedAs };
  }
}

/** Ends a claim: `publishedAs` marks the upload used for good; without it the upload is free again. */
export async function settleUploadClaim(
  uploadId: string,
  claim: string,
  publishedAs?: string,
): Promise<void> {
  try {
    await documentClientInstance().send(
      new UpdateCommand({
        TableName: mainTableName(),
        Key: keys.upload(uploadId),
        UpdateExpression:
          publishedAs === undefined
            ? 'REMOVE claim, claimed_at'
            : 'SET published_as = :published REMOVE claim',
        ConditionExpression: 'claim = :claim',
        ExpressionAttributeValues: {
          ':claim': claim,
          ...(publishedAs === undefined ? {} : { ':published': publishedAs }),
        },
      }),
    );
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
  }
}
