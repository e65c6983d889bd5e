/**
 * Single-use uploads (docs/security.md): an upload id publishes at most once. The publish claims
 * the upload before reading its bytes and marks it used when the package is catalogued, so bytes
 * PUT to the presigned URL afterwards are never read; a failed publish frees the upload for a
 * corrected retry. Concurrent publishes of one upload: one runs, the others get a 409.
 */
import { randomUUID } from 'node:crypto';
import { claimUpload, settleUploadClaim } from '#adapters/dynamo/uploads.ts';
import { ProblemError } from '#core/errors.ts';
import type { PublishOutcome } from './publish.ts';

/** A claim older than this belongs to a publish that died (the API's timeout is far shorter). */
const STALE_CLAIM_MS = 15 * 60 * 1000;

function publishedIdentifier(outcome: PublishOutcome): string {
  return outcome.kind === 'package'
    ? outcome.package.unique_identifier
    : `${outcome.bundle.author}/${outcome.bundle.name}:${outcome.bundle.version}`;
}

export async function publishUploadOnce(
  uploadId: string,
  now: Date,
  publish: () => Promise<PublishOutcome>,
): Promise<PublishOutcome> {
  const claim = randomUUID();
  const claimed = await claimUpload(uploadId, claim, now, new Date(now.getTime() - STALE_CLAIM_MS));
  if (!claimed.claimed) {
    throw new ProblemError(
      'upload-already-used',
      claimed.published_as === undefined
        ? `Upload "${uploadId}" is being published by another request.`
        : `Upload "${uploadId}" was already published as ${claimed.published_as}; ask for a new upload.`,
      { extensions: claimed.published_as === undefined ? {} : { unique_identifier: claimed.published_as } },
    );
  }
  let outcome: PublishOutcome;
  try {
    outcome = await publish();
  } catch (error) {
    await settleUploadClaim(uploadId, claim);
    throw error;
  }
  await settleUploadClaim(uploadId, claim, publishedIdentifier(outcome));
  return outcome;
}
