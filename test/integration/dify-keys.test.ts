/**
 * Keys and signatures Dify can use: `pluginops keygen` writes PKCS#1 PEM (the only layout Dify's
 * daemon loads, `internal/utils/encryption/rsa.go`), a package signed with it verifies with
 * `openssl dgst -sha256 -verify` over Dify's message layout (the SHA-256 of every file in zip
 * order, then the decimal time — `decoder/verifier.go`), and `inspect` tells verified, unverified,
 * unknown signer and tampered apart.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readArchive } from '#core/package/archive.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { resolvePackageLimits } from '#core/package/limits.ts';
import { buildPackage, packageFiles } from '#test/support/package-builder.ts';

const exec = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const node = join(repoRoot, 'node_modules/.bin/node');
const cli = join(repoRoot, 'bin/pluginops.js');
let work = '';

async function pluginops(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(node, [cli, ...args], { cwd: work, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function entriesOf(file: string) {
  return readArchive(byteSourceFromBuffer(await readFile(join(work, file))), {
    limits: resolvePackageLimits(),
    collect: () => true,
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'pluginops-dify-keys-'));
  await writeFile(join(work, 'plain.difypkg'), await buildPackage());
  // Default size (4096 bits, like Dify's CLI) and default layout.
  expect((await pluginops('keygen', '--name', 'release')).code).toBe(0);
  expect((await pluginops('keygen', '--name', 'stranger', '--bits', '2048')).code).toBe(0);
  const signed = await pluginops(
    'sign',
    'plain.difypkg',
    '--key',
    'release.private.pem',
    '--category',
    'partner',
    '-o',
    'signed.difypkg',
  );
  expect(signed.code, signed.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('keygen', () => {
  it('writes PKCS#1 PEM by default', async () => {
    expect(await readFile(join(work, 'release.private.pem'), 'utf8')).toMatch(
      /^-----BEGIN RSA PRIVATE KEY-----\n/,
    );
    expect(await readFile(join(work, 'release.public.pem'), 'utf8')).toMatch(
      /^-----BEGIN RSA PUBLIC KEY-----\n/,
    );
    const { stdout } = await exec(
      'openssl',
      ['rsa', '-RSAPublicKey_in', '-in', 'release.public.pem', '-noout', '-text'],
      {
        cwd: work,
      },
    );
    expect(stdout).toMatch(/Public-Key: \(4096 bit\)/);
  });
});

describe('a package signed with a keygen key', () => {
  it('verifies with openssl over Dify’s message layout', async () => {
    const archive = await entriesOf('signed.difypkg');
    const comment = JSON.parse(archive.comment.toString('utf8')) as { signature: string; time: number };
    const message = Buffer.concat([
      ...archive.entries.map((entry) =>
        createHash('sha256')
          .update(entry.content ?? Buffer.alloc(0))
          .digest(),
      ),
      Buffer.from(String(comment.time)),
    ]);
    expect(archive.entries.at(-1)?.name).toBe('.verification.dify.json');
    await writeFile(join(work, 'message.bin'), message);
    await writeFile(join(work, 'signature.bin'), Buffer.from(comment.signature, 'base64'));
    const { stdout } = await exec(
      'openssl',
      ['dgst', '-sha256', '-verify', 'release.public.pem', '-signature', 'signature.bin', 'message.bin'],
      { cwd: work },
    );
    expect(stdout.trim()).toBe('Verified OK');
  });
});

describe('inspect tells signatures apart', () => {
  it('verified with the signer’s key, with its category', async () => {
    const result = await pluginops('inspect', 'signed.difypkg', '--trust', 'release.public.pem');
    expect(result.stdout).toMatch(/signature:\s+verified \(key release, category partner/);
    expect(result.stdout).toMatch(/category:\s+tool/);
  });

  it('unverified when no trusted key is given', async () => {
    const result = await pluginops('inspect', 'signed.difypkg', '--json');
    expect(JSON.parse(result.stdout)).toMatchObject({
      category: 'tool',
      signature: { status: 'invalid', verdict: 'unverified (no trusted key given)' },
    });
  });

  it('unknown signer when only other keys are trusted', async () => {
    const result = await pluginops('inspect', 'signed.difypkg', '--trust', 'stranger.public.pem');
    expect(result.stdout).toMatch(/signature:\s+unknown signer/);
  });

  it('invalid (tampered) when a file changed after signing', async () => {
    const archive = await entriesOf('signed.difypkg');
    const files: Record<string, Buffer | null> = Object.fromEntries(
      [...packageFiles().keys()].map((name) => [name, null]),
    );
    for (const entry of archive.entries) files[entry.name] = entry.content ?? Buffer.alloc(0);
    files['main.py'] = Buffer.from('import os\nos.system("curl evil")\n');
    await writeFile(join(work, 'tampered.difypkg'), await buildPackage({ files, comment: archive.comment }));
    const result = await pluginops('inspect', 'tampered.difypkg', '--trust', 'release.public.pem');
    expect(result.stdout).toMatch(/signature:\s+invalid \(tampered\)/);
  });
});
