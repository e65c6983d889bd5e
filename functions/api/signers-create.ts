/**
 * `POST /v1/signers` (operator): trusts a publisher's RSA public key (SPKI or PKCS#1 PEM, as Dify
 * ships its official key). Keys under 2048 bits are refused.
 */
import { createPublicKey } from 'node:crypto';
import { createSigner } from '#adapters/dynamo/signers.ts';
import { ValidationError } from '#core/errors.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { CreateSignerBody } from './schemas.ts';

function assertRsaPublicKey(pem: string): void {
  let details: { type: string; bits: number | undefined };
  try {
    const key = createPublicKey(pem);
    details = { type: key.asymmetricKeyType ?? 'unknown', bits: key.asymmetricKeyDetails?.modulusLength };
  } catch {
    throw new ValidationError('public_key_pem is not a PEM public key.', [
      { path: 'body.public_key_pem', message: 'not a PEM public key' },
    ]);
  }
  if (details.type !== 'rsa' || (details.bits ?? 0) < 2048) {
    throw new ValidationError('Signers must be RSA keys of at least 2048 bits (Dify signs with RSA).', [
      { path: 'body.public_key_pem', message: `${details.type} ${details.bits ?? '?'} bits` },
    ]);
  }
}

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, idempotent: true, body: CreateSignerBody },
  async ({ body, now }) => {
    assertRsaPublicKey(body.public_key_pem);
    const signer = await createSigner({
      key_id: body.key_id,
      public_key_pem: body.public_key_pem.trim(),
      description: body.description ?? null,
      created_at: now.toISOString(),
    });
    return jsonResponse(201, signer);
  },
);
