/**
 * Supply-chain trust (docs/security.md): who may publish under which author, which catalogued
 * builds a tenant sees, and which of two builds of one identifier is the genuine one. Pure: the
 * callers pass the grants, signer bindings and records they read.
 */
import type { PackageRecord, PackageSignature, Publisher, SourceRef } from './catalog.ts';
import { ProblemError } from './errors.ts';

/** Who publishes: an operator key (`tenantId === null`), a tenant key, or a tenant's drop folder. */
export interface PublishingCaller {
  tenantId: string | null;
  /** The API key id; absent for the drop folder (S3 credentials, not an API key). */
  keyId?: string | undefined;
}

/** The publisher stamp a new package record carries. */
export function publisherOf(caller: PublishingCaller, source: SourceRef, now: Date): Publisher {
  return {
    kind: caller.tenantId === null ? 'operator' : 'tenant',
    tenant_id: caller.tenantId,
    key_id: caller.keyId ?? null,
    source: 'drop_key' in source && source.drop_key !== undefined ? 'drop' : source.type,
    published_at: now.toISOString(),
  };
}

/** What the operator decided about one author (the manifest's `author`). */
export interface AuthorRules {
  /** Reserved by the stage (e.g. `langgenius`): publishing needs a signer bound to the author. */
  reserved: boolean;
  /** Signer key ids the operator bound to the author; non-empty → every build must be signed by one. */
  boundSigners: readonly string[];
  /** Whether the operator granted this author to the publishing tenant (ignored for operators). */
  grantedToCaller: boolean;
}

export interface AuthorCheck {
  author: string;
  caller: PublishingCaller;
  signature: Pick<PackageSignature, 'status' | 'key_id'>;
}

/**
 * Publish-time ownership rules, for every publisher and source:
 * - an `invalid` signature (tampered, or signed by a key the stage does not trust) is refused;
 * - an author with bound signers (always the case for a usable reserved author) needs a signature
 *   that verifies with one of them — operators included, so a stolen operator key cannot ship an
 *   unsigned `langgenius/…` build;
 * - a tenant key publishes only under the authors the operator granted to its tenant.
 *
 * @example assertMayPublish({ author: 'acme', caller: { tenantId: 't1' }, signature: { status: 'unsigned' } },
 *   { reserved: false, boundSigners: [], grantedToCaller: true })
 */
export function assertMayPublish(check: AuthorCheck, rules: AuthorRules): void {
  if (check.signature.status === 'invalid') {
    throw new ProblemError(
      'signature-invalid',
      'The package carries a signature that does not verify with any signer of this stage (tampered, or signed by an untrusted key); it is refused under every policy.',
    );
  }
  if (rules.reserved && rules.boundSigners.length === 0) {
    throw new ProblemError(
      'author-reserved',
      `The author "${check.author}" is reserved; the operator has not bound a signer to it, so nothing can be published under it.`,
      { extensions: { author: check.author } },
    );
  }
  if (rules.boundSigners.length > 0) {
    const signedByBound =
      check.signature.status === 'verified' &&
      check.signature.key_id !== undefined &&
      rules.boundSigners.includes(check.signature.key_id);
    if (!signedByBound) {
      throw new ProblemError(
        'author-signature-required',
        `Builds under "${check.author}" must be signed by a signer the operator bound to it (${rules.boundSigners.join(', ')}).`,
        { extensions: { author: check.author } },
      );
    }
  }
  if (check.caller.tenantId !== null && !rules.grantedToCaller) {
    throw new ProblemError(
      'author-not-granted',
      `The author "${check.author}" is not granted to tenant "${check.caller.tenantId}"; ask the operator to grant it.`,
      { extensions: { author: check.author } },
    );
  }
}

/**
 * Whether a tenant (or the operator, `null`) trusts and sees a catalogued build: operator-published
 * and promoted builds are stage-wide, a tenant's own builds are its own. Records catalogued before
 * publishers were recorded have no `publisher` and count as stage-wide (see docs/security.md).
 */
export function isVisibleTo(
  record: Pick<PackageRecord, 'publisher' | 'promoted' | 'also_published_by'>,
  tenantId: string | null,
): boolean {
  if (tenantId === null) return true;
  const publisher = record.publisher;
  if (publisher === undefined || publisher.kind === 'operator') return true;
  if (record.promoted !== undefined) return true;
  return publisher.tenant_id === tenantId || (record.also_published_by ?? []).includes(tenantId);
}

/** The builds of a list a tenant may see, in their order: the one filter for listings and candidates. */
export function visibleTo<T extends Pick<PackageRecord, 'publisher' | 'promoted' | 'also_published_by'>>(
  records: readonly T[],
  tenantId: string | null,
): T[] {
  return records.filter((record) => isVisibleTo(record, tenantId));
}

/**
 * No squatting: two builds with one unique identifier hold the same files (the identifier embeds
 * their checksum) and differ only in the zip comment, i.e. the signature. The build verified by a
 * stage signer is the genuine one and replaces an unsigned copy; anything else keeps the first.
 */
export function supersedes(
  incoming: Pick<PackageRecord, 'signature' | 'sha256'>,
  existing: Pick<PackageRecord, 'signature' | 'sha256'>,
): boolean {
  return (
    incoming.sha256 !== existing.sha256 &&
    incoming.signature.status === 'verified' &&
    existing.signature.status !== 'verified'
  );
}
