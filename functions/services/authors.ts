/** Author ownership use-cases (docs/security.md): grants to tenants and signer bindings. */
import {
  type AuthorView,
  bindAuthorSigners,
  findAuthorSigners,
  listAuthorTenants,
} from '#adapters/dynamo/authors.ts';
import { findSigner } from '#adapters/dynamo/signers.ts';
import { ValidationError } from '#core/errors.ts';
import { getConfig } from '#shared/config.ts';

export async function describeAuthor(author: string): Promise<AuthorView> {
  const [signers, tenants] = await Promise.all([findAuthorSigners(author), listAuthorTenants(author)]);
  return { author, reserved: getConfig().reservedAuthors.includes(author), signers, tenants };
}

/** Binds stage signers to an author; every key id must name a signer the stage trusts. */
export async function bindSigners(author: string, signers: string[], now: Date): Promise<AuthorView> {
  const unique = [...new Set(signers)];
  const missing: string[] = [];
  for (const keyId of unique) if ((await findSigner(keyId)) === undefined) missing.push(keyId);
  if (missing.length > 0) {
    throw new ValidationError(
      `Unknown signer(s): ${missing.join(', ')}; add them with POST /v1/signers first.`,
      missing.map((keyId) => ({ path: `body.signers.${unique.indexOf(keyId)}`, message: 'unknown signer' })),
    );
  }
  await bindAuthorSigners(author, unique, now);
  return describeAuthor(author);
}
