/**
 * Signs packages the way Dify's `dify signature sign` does, so Dify daemons configured with the
 * matching public key accept them, and makes key pairs for `pluginops keygen`.
 */

import { constants, createHash, createPrivateKey, generateKeyPair, sign } from 'node:crypto';
import { promisify } from 'node:util';
import yazl from 'yazl';
import { ValidationError } from '#core/errors.ts';
import { readArchive } from './archive.ts';
import type { ByteSource } from './byte-source.ts';
import { type PackageLimits, resolvePackageLimits } from './limits.ts';
import { type AuthorizedCategory, buildSignedMessage, VERIFICATION_FILE } from './signature.ts';

export interface SignPackageOptions {
  /** RSA private key, PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY` as Dify's CLI writes). */
  readonly privateKeyPem: string;
  /** Written to `.verification.dify.json`; omit to sign without a verification file. */
  readonly authorizedCategory?: AuthorizedCategory;
  /** Signing time (the `time` of the comment, whole seconds). */
  readonly now: Date;
  readonly limits?: Partial<PackageLimits>;
}

/**
 * Every entry gets this DOS timestamp so signing is reproducible: same input, key and `now` give
 * the same bytes (PKCS#1 v1.5 signatures are deterministic). Built from local-time fields because
 * DOS timestamps are local time; the value is the earliest DOS date.
 */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);
const FILE_MODE = 0o100644;

/**
 * Rewrites the package with every entry in its original order (deflated, fixed timestamps),
 * drops any existing `.verification.dify.json`, appends a new one as the last entry when a
 * category is given, and stores the signature in the zip comment.
 *
 * The input goes through the same defensive reader as {@link inspectPackage} (unsafe archives are
 * refused), but its manifest is not validated. Entry contents are held in memory while the new
 * archive is written, so memory use is bounded by the unpacked-size limit; this runs in the CLI
 * and operator tasks, not on the upload path.
 *
 * @example
 * const signed = await signPackage(byteSourceFromBuffer(pkg), { privateKeyPem, authorizedCategory: 'partner', now: new Date() });
 */
export async function signPackage(source: ByteSource, options: SignPackageOptions): Promise<Buffer> {
  const privateKey = parsePrivateKey(options.privateKeyPem);
  const time = Math.floor(options.now.getTime() / 1000);
  if (!Number.isSafeInteger(time)) throw new ValidationError('The signing time is not a valid date.');

  const archive = await readArchive(source, {
    limits: resolvePackageLimits(options.limits),
    collect: () => true,
  });
  const files = archive.entries
    .filter((entry) => entry.name !== VERIFICATION_FILE)
    .map((entry) => ({ name: entry.name, content: entry.content as Buffer, sha256: entry.sha256 }));
  if (options.authorizedCategory !== undefined) {
    // Same bytes as Go's json.Marshal of Dify's Verification struct.
    const content = Buffer.from(JSON.stringify({ authorized_category: options.authorizedCategory }), 'utf8');
    files.push({ name: VERIFICATION_FILE, content, sha256: createHash('sha256').update(content).digest() });
  }

  const message = buildSignedMessage(
    files.map((file) => file.sha256),
    time,
  );
  const signature = sign('sha256', message, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
  const comment = JSON.stringify({ signature: signature.toString('base64'), time });

  const zip = new yazl.ZipFile();
  for (const file of files) {
    zip.addBuffer(file.content, file.name, {
      compress: true,
      mtime: FIXED_MTIME,
      mode: FILE_MODE,
      forceDosTimestamp: true,
    });
  }
  const output = collectStream(zip.outputStream);
  zip.end({ comment, forceZip64Format: false });
  return output;
}

export interface SigningKeyPair {
  /** `RSA PRIVATE KEY` (PKCS#1, default) or `PRIVATE KEY` (PKCS#8) PEM. Keep it secret. */
  readonly privateKeyPem: string;
  /** `RSA PUBLIC KEY` (PKCS#1, default) or `PUBLIC KEY` (SPKI) PEM, for keyrings and Dify. */
  readonly publicKeyPem: string;
}

const generateRsaKeyPair = promisify(generateKeyPair);

/**
 * PEM layouts for new keys. Dify's plugin daemon loads only PKCS#1 (`RSA PUBLIC KEY` /
 * `RSA PRIVATE KEY`, dify-plugin-daemon `internal/utils/encryption/rsa.go`), and one unreadable
 * third-party key makes it treat every plugin as unverified, so PKCS#1 is the default.
 */
export type KeyEncoding = 'pkcs1' | 'pkcs8';

/**
 * A new RSA key pair for signing packages (Dify's CLI uses 4096 bits).
 *
 * @example
 * const { privateKeyPem, publicKeyPem } = await generateSigningKeyPair();
 */
export async function generateSigningKeyPair(
  bits = 4096,
  encoding: KeyEncoding = 'pkcs1',
): Promise<SigningKeyPair> {
  if (!Number.isInteger(bits) || bits < 2048)
    throw new RangeError(`RSA keys need at least 2048 bits, got ${bits}`);
  const { privateKey, publicKey } = await generateRsaKeyPair('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: encoding === 'pkcs1' ? 'pkcs1' : 'spki', format: 'pem' },
    privateKeyEncoding: { type: encoding === 'pkcs1' ? 'pkcs1' : 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

function parsePrivateKey(pem: string) {
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new ValidationError('The signing key is not a readable PEM private key.', [], { cause: error });
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ValidationError(`The signing key must be RSA, not ${key.asymmetricKeyType}.`);
  }
  return key;
}

function collectStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
