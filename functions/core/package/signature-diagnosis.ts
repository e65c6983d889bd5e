/**
 * Why a signature that no trusted key validates failed, so `inspect` and the API can tell a
 * stranger's genuine signature from a tampered package.
 *
 * RSA PKCS#1 v1.5 lets the holder of a public key recover what was signed: the public operation
 * on the signature yields a type-1 padded `DigestInfo`. When a trusted key recovers a well-formed
 * `DigestInfo` whose digest differs from the package's, that key signed *other* content: the
 * package was changed after signing (`tampered`). When no trusted key recovers a well-formed block,
 * someone else signed it (`unknown-signer`), or there were no keys to try (`no-trusted-keys`).
 */
import { constants, createHash, createPublicKey, type KeyObject, publicDecrypt } from 'node:crypto';

export type SignatureFailure = 'no-trusted-keys' | 'unknown-signer' | 'tampered';

/** DER prefix of a SHA-256 `DigestInfo` (RFC 8017 §9.2, note 1). */
const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * @example
 * diagnoseSignatureFailure(message, signature, [{ keyId: 'release', publicKey: pem }]) // 'tampered'
 */
export function diagnoseSignatureFailure(
  message: Uint8Array,
  signature: Uint8Array,
  keyring: ReadonlyArray<{ readonly publicKey: string | KeyObject }>,
): SignatureFailure {
  if (keyring.length === 0) return 'no-trusted-keys';
  const digest = createHash('sha256').update(message).digest();
  for (const { publicKey } of keyring) {
    const recovered = recoverDigestInfo(publicKey, signature);
    if (recovered === undefined) continue;
    const isSha256 =
      recovered.length === SHA256_DIGEST_INFO_PREFIX.length + 32 &&
      recovered.subarray(0, SHA256_DIGEST_INFO_PREFIX.length).equals(SHA256_DIGEST_INFO_PREFIX);
    if (isSha256 && !recovered.subarray(SHA256_DIGEST_INFO_PREFIX.length).equals(digest)) return 'tampered';
  }
  return 'unknown-signer';
}

function recoverDigestInfo(publicKey: string | KeyObject, signature: Uint8Array): Buffer | undefined {
  try {
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    if (key.asymmetricKeyType !== 'rsa') return undefined;
    return publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    // Not a type-1 block under this key: this key did not make the signature.
    return undefined;
  }
}
