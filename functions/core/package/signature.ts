/**
 * Dify-compatible package signatures (dify-plugin-daemon `decoder.VerifyPluginWithPublicKeys`).
 *
 * The zip comment holds `{"signature": base64, "time": unix seconds}`. The signed message is the
 * raw SHA-256 of every entry's content in zip order (including `.verification.dify.json`),
 * followed by the decimal time; the signature is RSA PKCS#1 v1.5 over SHA-256 of that message.
 *
 * Verification never throws for a bad signature: it reports `unsigned` or `invalid` and leaves the
 * decision to the tenant's policy.
 */

import { constants, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { diagnoseSignatureFailure, type SignatureFailure } from './signature-diagnosis.ts';

/** The file Dify's signer appends as the last entry; its content is covered by the signature. */
export const VERIFICATION_FILE = '.verification.dify.json';

export const AUTHORIZED_CATEGORIES = ['langgenius', 'partner', 'community'] as const;
export type AuthorizedCategory = (typeof AUTHORIZED_CATEGORIES)[number];

/** Trusted signers. `publicKey` is a PEM (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`) or a KeyObject. */
export type Keyring = ReadonlyArray<{ readonly keyId: string; readonly publicKey: string | KeyObject }>;

export type SignatureStatus = 'verified' | 'unsigned' | 'invalid';

export interface SignatureResult {
  readonly status: SignatureStatus;
  /** The keyring entry that validated the signature (`verified` only). */
  readonly keyId?: string;
  /** When the signer says it signed, RFC 3339 (`verified` and `invalid` with a readable time). */
  readonly signedAt?: string;
  /**
   * `authorized_category` of `.verification.dify.json`. Only reported when `verified`: an unsigned
   * or badly signed package could claim anything, and policies compare it against install scopes.
   */
  readonly authorizedCategory?: AuthorizedCategory;
  /** Why the package is `unsigned` or `invalid`, for humans. */
  readonly reason?: string;
  /**
   * Why an `invalid` signature failed: no trusted key was given, a key we do not trust signed it,
   * a trusted key signed other content (`tampered`), or the signature is unreadable.
   */
  readonly failure?: SignatureFailure | 'malformed';
}

/** What verification needs from the archive pass. */
export interface SignatureInput {
  /** Raw zip comment bytes. */
  readonly comment: Uint8Array;
  /** SHA-256 of every entry's content, in zip order. */
  readonly digests: ReadonlyArray<Uint8Array>;
  /** Content of `.verification.dify.json`, when the package has one. */
  readonly verificationFile?: Uint8Array;
}

/** The parsed zip comment of a signed package. */
export interface SignatureComment {
  readonly signature: Buffer;
  readonly time: number;
}

type CommentParse =
  | { readonly kind: 'unsigned'; readonly reason: string }
  | { readonly kind: 'malformed'; readonly reason: string; readonly signedAt?: string }
  | ({ readonly kind: 'signed'; readonly signedAt: string } & SignatureComment);

/** Largest |time| that still maps to a JavaScript Date (±8.64e15 ms). */
const MAX_UNIX_SECONDS = 8.64e12;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Reads the signature from a zip comment. Empty, non-JSON, or JSON without a non-empty
 * `signature` string means unsigned; a signature with an unusable `time` or non-base64 value is
 * malformed (Dify rejects both).
 */
export function parseSignatureComment(comment: Uint8Array): CommentParse {
  const text = Buffer.from(comment).toString('utf8').trim();
  if (text === '') return { kind: 'unsigned', reason: 'The package has no signature (empty zip comment).' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'unsigned', reason: 'The package has no signature (zip comment is not JSON).' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { kind: 'unsigned', reason: 'The package has no signature (zip comment is not a JSON object).' };
  }
  const { signature, time } = parsed as Record<string, unknown>;
  if (typeof signature !== 'string' || signature === '') {
    return { kind: 'unsigned', reason: 'The package has no signature (zip comment has no "signature").' };
  }
  // Dify parses time as an int64: fractions, strings and missing values fail there too.
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || Math.abs(time) > MAX_UNIX_SECONDS) {
    return { kind: 'malformed', reason: 'The signature\'s "time" is not an integer Unix timestamp.' };
  }
  const signedAt = formatUnixSeconds(time);
  if (!STRICT_BASE64.test(signature)) {
    return { kind: 'malformed', reason: 'The signature is not valid base64.', signedAt };
  }
  return { kind: 'signed', signature: Buffer.from(signature, 'base64'), time, signedAt };
}

/**
 * The exact bytes Dify signs: every content digest in zip order, then the decimal time.
 *
 * @example
 * buildSignedMessage([sha256(manifest), sha256(readme)], 1_700_000_000)
 */
export function buildSignedMessage(digests: ReadonlyArray<Uint8Array>, time: number): Buffer {
  return Buffer.concat([...digests, Buffer.from(String(time), 'ascii')]);
}

/** Reads `authorized_category`; `'malformed'` when the file is not a JSON object. */
export function parseVerificationFile(content: Uint8Array): AuthorizedCategory | undefined | 'malformed' {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(content).toString('utf8'));
  } catch {
    return 'malformed';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'malformed';
  const category = (parsed as Record<string, unknown>).authorized_category;
  return AUTHORIZED_CATEGORIES.find((known) => known === category);
}

/**
 * Checks the package's signature against every key of the keyring; the first key that validates
 * wins. Keys that cannot be parsed or are not RSA are skipped (the keyring adapter validates keys
 * when they are added). Never throws.
 *
 * @example
 * verifyPackageSignature({ comment, digests }, [{ keyId: 'ops-2025', publicKey: pem }])
 * // → { status: 'verified', keyId: 'ops-2025', signedAt: '2025-01-01T00:00:00Z' }
 */
export function verifyPackageSignature(input: SignatureInput, keyring: Keyring): SignatureResult {
  const comment = parseSignatureComment(input.comment);
  if (comment.kind === 'unsigned') return { status: 'unsigned', reason: comment.reason };
  if (comment.kind === 'malformed') {
    return {
      status: 'invalid',
      failure: 'malformed',
      reason: comment.reason,
      ...(comment.signedAt ? { signedAt: comment.signedAt } : {}),
    };
  }
  const { signedAt } = comment;
  const message = buildSignedMessage(input.digests, comment.time);
  const signer = keyring.find(({ publicKey }) => verifiesWith(publicKey, message, comment.signature));
  if (signer === undefined) {
    const failure = diagnoseSignatureFailure(message, comment.signature, keyring);
    return { status: 'invalid', failure, signedAt, reason: FAILURE_REASONS[failure] };
  }
  // Dify (dify-plugin-daemon `pkg/plugin_packager/decoder/zip.go`, `Verification`: "historical
  // reason that all plugins are signed by langgenius") treats a verified package without
  // a verification file as its own: category `langgenius`.
  if (input.verificationFile === undefined) {
    return { status: 'verified', keyId: signer.keyId, signedAt, authorizedCategory: 'langgenius' };
  }
  // Dify refuses a package whose verification file it cannot parse, even with a good signature.
  const category = parseVerificationFile(input.verificationFile);
  if (category === 'malformed') {
    return {
      status: 'invalid',
      failure: 'malformed',
      signedAt,
      reason: `${VERIFICATION_FILE} is not a JSON object.`,
    };
  }
  return {
    status: 'verified',
    keyId: signer.keyId,
    signedAt,
    ...(category ? { authorizedCategory: category } : {}),
  };
}

const FAILURE_REASONS: Record<SignatureFailure, string> = {
  'no-trusted-keys': 'No trusted signing key was given, so the signature could not be checked.',
  'unknown-signer': 'The package is signed by a key that is not trusted.',
  tampered: 'A trusted key signed different content: the package was changed after signing.',
};

function verifiesWith(publicKey: string | KeyObject, message: Buffer, signature: Buffer): boolean {
  try {
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    if (key.type !== 'public' || key.asymmetricKeyType !== 'rsa') return false;
    return verify('sha256', message, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return false;
  }
}

/** `2025-01-01T00:00:00Z` (RFC 3339, whole seconds as signed). */
function formatUnixSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}
