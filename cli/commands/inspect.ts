/**
 * `pluginops inspect <file>`: what pluginops (and Dify) will see in a package — identifier,
 * hashes, signature status against the given trusted keys, requested permissions, dependencies.
 */
import { createPublicKey } from 'node:crypto';
import { basename } from 'node:path';
import { Command } from 'commander';
import { openFileByteSource } from '#adapters/file-byte-source.ts';
import { type CliIo, printFields, printJson } from '#cli/output.ts';
import { readUserFile, userPathError } from '#cli/user-files.ts';
import { ValidationError } from '#core/errors.ts';
import type { Manifest, ManifestDependency } from '#core/manifest.ts';
import { type InspectedPackage, inspectPackage } from '#core/package/inspect.ts';
import { formatBytes } from '#core/package/limits.ts';
import type { Keyring, SignatureResult } from '#core/package/signature.ts';

interface InspectOptions {
  json: boolean;
  trust: string[];
}

export function inspectCommand(io: CliIo): Command {
  return new Command('inspect')
    .description(
      'Validate a .difypkg and show its identifier, hashes, signature, permissions and dependencies',
    )
    .argument('<file>', 'the package')
    .option('--json', 'print one JSON object (snake_case fields)', false)
    .option(
      '--trust <pubkey.pem>',
      'a trusted signer public key (PEM); repeat for several',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .action(async (file: string, options: InspectOptions) => {
      const keyring = await loadKeyring(options.trust);
      const inspected = await inspectFile(file, keyring);
      if (options.json) printJson(io, describePackage(inspected));
      else printPackage(io, inspected);
    });
}

/** Runs {@link inspectPackage} on a local file. */
export async function inspectFile(file: string, keyring: Keyring): Promise<InspectedPackage> {
  let source: Awaited<ReturnType<typeof openFileByteSource>>;
  try {
    source = await openFileByteSource(file);
  } catch (error) {
    throw userPathError(error, file, 'file');
  }
  try {
    return await inspectPackage(source, { keyring });
  } finally {
    await source.close();
  }
}

/**
 * One keyring entry per `--trust` file; the key id is the file name without `.public.pem` / `.pem`
 * (what `pluginops keygen --name` chose).
 */
export async function loadKeyring(paths: readonly string[]): Promise<Keyring> {
  const keyring: { keyId: string; publicKey: string }[] = [];
  for (const path of paths) {
    const pem = (await readUserFile(path, 'trust')).toString('utf8');
    try {
      createPublicKey(pem);
    } catch (error) {
      throw new ValidationError(
        `${path} is not a readable PEM public key.`,
        [{ path: 'trust', message: path }],
        {
          cause: error,
        },
      );
    }
    keyring.push({ keyId: basename(path).replace(/(\.public)?\.pem$/, ''), publicKey: pem });
  }
  return keyring;
}

/** The `--json` document. */
export function describePackage(pkg: InspectedPackage): Record<string, unknown> {
  const { manifest, signature } = pkg;
  return {
    unique_identifier: pkg.uniqueIdentifier,
    plugin_id: pkg.pluginId,
    version: pkg.version,
    checksum: pkg.checksum,
    sha256: pkg.sha256,
    size: pkg.size,
    entries: pkg.entries,
    unpacked_size: pkg.unpackedSize,
    category: pkg.category,
    signature: {
      status: signature.status,
      verdict: signatureVerdict(signature),
      key_id: signature.keyId,
      signed_at: signature.signedAt,
      authorized_category: signature.authorizedCategory,
      reason: signature.reason,
    },
    memory: manifest.resource.memory,
    permissions: grantedPermissions(manifest),
    minimum_dify_version: manifest.meta.minimum_dify_version ?? undefined,
    dependencies: manifest.dependencies ?? [],
    manifest,
  };
}

function printPackage(io: CliIo, pkg: InspectedPackage): void {
  const { manifest, signature } = pkg;
  const signer = [
    signature.keyId === undefined ? undefined : `key ${signature.keyId}`,
    signature.authorizedCategory === undefined ? undefined : `category ${signature.authorizedCategory}`,
    signature.signedAt === undefined ? undefined : `signed ${signature.signedAt}`,
    signature.reason,
  ].filter((part) => part !== undefined);
  const dependencies = (manifest.dependencies ?? []).map(describeDependency);
  printFields(io, [
    ['unique_identifier', pkg.uniqueIdentifier],
    ['plugin_id', pkg.pluginId],
    ['version', pkg.version],
    ['checksum', pkg.checksum],
    ['sha256', pkg.sha256],
    ['size', `${pkg.size} bytes (${formatBytes(pkg.size)}), ${pkg.entries} files`],
    ['category', pkg.category],
    [
      'signature',
      signer.length === 0
        ? signatureVerdict(signature)
        : `${signatureVerdict(signature)} (${signer.join(', ')})`,
    ],
    ['memory', formatBytes(manifest.resource.memory)],
    ['permissions', grantedPermissions(manifest).join(', ') || 'none'],
    ['minimum_dify', manifest.meta.minimum_dify_version ?? undefined],
    ['dependencies', dependencies.length === 0 ? 'none' : dependencies.join('; ')],
  ]);
}

/**
 * The signature in words: `verified`, `unsigned`, `unverified (no trusted key given)`,
 * `unknown signer`, `invalid (tampered)` or `invalid (malformed)`.
 */
export function signatureVerdict(signature: SignatureResult): string {
  if (signature.status !== 'invalid') return signature.status;
  switch (signature.failure) {
    case 'no-trusted-keys':
      return 'unverified (no trusted key given)';
    case 'unknown-signer':
      return 'unknown signer';
    case 'tampered':
      return 'invalid (tampered)';
    default:
      return 'invalid (malformed)';
  }
}

/** The permissions a manifest asks for, as short labels: `model.llm`, `storage (1 MiB)`. */
export function grantedPermissions(manifest: Manifest): string[] {
  const permission = manifest.resource.permission;
  if (permission === undefined || permission === null) return [];
  const granted: string[] = [];
  if (permission.tool?.enabled) granted.push('tool');
  if (permission.model?.enabled) {
    const models = (['llm', 'text_embedding', 'rerank', 'tts', 'speech2text', 'moderation'] as const).filter(
      (kind) => permission.model?.[kind] === true,
    );
    granted.push(...(models.length === 0 ? ['model'] : models.map((kind) => `model.${kind}`)));
  }
  if (permission.node?.enabled) granted.push('node');
  if (permission.endpoint?.enabled) granted.push('endpoint');
  if (permission.app?.enabled) granted.push('app');
  if (permission.storage?.enabled) granted.push(`storage (${formatBytes(permission.storage.size)})`);
  return granted;
}

function describeDependency(dependency: ManifestDependency): string {
  switch (dependency.type) {
    case 'marketplace':
      return `marketplace ${dependency.plugin} ${dependency.version}`;
    case 'github':
      return `github ${dependency.repo}@${dependency.release} ${dependency.package}`;
    case 'package':
      return `package ${dependency.unique_identifier}`;
  }
}
