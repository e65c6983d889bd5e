/**
 * `pluginops publish <file>` | `--github owner/repo --release tag --asset name` |
 * `--marketplace <unique_identifier>`: puts a package in the stage's catalog. A file goes through a
 * presigned upload (POST /v1/uploads → PUT, with a progress bar for large files on a terminal →
 * POST /v1/packages); the other sources are fetched by the server.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { PackageRecord } from '#cli/api-types.ts';
import type { ApiClient } from '#cli/client.ts';
import { type CliIo, isInteractive, printFields, printJson } from '#cli/output.ts';
import { ProgressBar } from '#cli/progress-bar.ts';
import { connect, parseUniqueIdentifier, type RemoteOptions, remoteCommand } from '#cli/remote-command.ts';
import { putFile } from '#cli/upload.ts';
import { userPathError } from '#cli/user-files.ts';
import { ValidationError } from '#core/errors.ts';
import { formatBytes } from '#core/package/limits.ts';

interface PublishOptions extends RemoteOptions {
  github?: string;
  release?: string;
  asset?: string;
  marketplace?: string;
  expectIdentifier?: string;
}

/** Files at least this large get a progress bar (on an interactive terminal). */
export const PROGRESS_THRESHOLD_BYTES = 1024 * 1024;
const MAX_PACKAGE_BYTES = 50 * 1024 * 1024;

export type PublishSource =
  | { source: 'file'; file: string }
  | { source: 'github'; repo: string; release: string; asset: string }
  | { source: 'marketplace'; unique_identifier: string };

export interface PublishResult {
  package: PackageRecord;
  /** False when the stage already had these exact bytes (200 instead of 201). */
  created: boolean;
}

export function publishCommand(io: CliIo): Command {
  return remoteCommand('publish')
    .description(
      'Publish a package to the catalog: a local .difypkg, a GitHub release asset, or from a marketplace',
    )
    .argument('[file]', 'a .difypkg to upload')
    .option('--github <owner/repo>', 'publish a GitHub release asset (with --release and --asset)')
    .option('--release <tag>', 'the release tag (with --github)')
    .option('--asset <name>', 'the asset file name (with --github)')
    .option(
      '--marketplace <unique_identifier>',
      "pull these exact bytes from the stage's marketplace",
      parseUniqueIdentifier,
    )
    .option(
      '--expect-identifier <unique_identifier>',
      'fail (exit 2) unless the published identifier is this one',
    )
    .action(async (file: string | undefined, options: PublishOptions) => {
      const source = publishSource(file, options);
      const client = await connect(io, options);
      const result = await publishPackage(io, client, source, {
        progress: !options.json && isInteractive(io),
      });
      const expected =
        options.expectIdentifier ?? (source.source === 'marketplace' ? source.unique_identifier : undefined);
      if (options.json) printJson(io, { ...result.package, created: result.created });
      else printPackage(io, result);
      if (expected !== undefined) assertIdentifier(result.package, expected);
    });
}

/** Exactly one source: the file argument, --github (+ --release, --asset), or --marketplace. */
export function publishSource(file: string | undefined, options: PublishOptions): PublishSource {
  const chosen = [file !== undefined, options.github !== undefined, options.marketplace !== undefined].filter(
    Boolean,
  );
  if (chosen.length !== 1) {
    throw new ValidationError(
      'Give exactly one source: a file, --github owner/repo, or --marketplace <identifier>.',
      [{ path: 'source', message: chosen.length === 0 ? 'missing' : 'more than one' }],
    );
  }
  if (options.github !== undefined) {
    const missing = (['release', 'asset'] as const).filter((name) => options[name] === undefined);
    if (missing.length > 0 || !/^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/.test(options.github)) {
      throw new ValidationError('--github owner/repo needs --release <tag> and --asset <name>.', [
        ...missing.map((name) => ({ path: name, message: 'required with --github' })),
        ...(/\//.test(options.github) ? [] : [{ path: 'github', message: 'must be owner/repo' }]),
      ]);
    }
    return {
      source: 'github',
      repo: options.github,
      release: options.release ?? '',
      asset: options.asset ?? '',
    };
  }
  if (options.release !== undefined || options.asset !== undefined) {
    throw new ValidationError('--release and --asset go with --github.', [
      { path: 'github', message: 'required' },
    ]);
  }
  if (options.marketplace !== undefined)
    return { source: 'marketplace', unique_identifier: options.marketplace };
  return { source: 'file', file: file ?? '' };
}

export async function publishPackage(
  io: CliIo,
  client: ApiClient,
  source: PublishSource,
  options: { progress: boolean },
): Promise<PublishResult> {
  let body: Record<string, unknown>;
  if (source.source === 'file') {
    body = { source: 'package', upload_id: await uploadFile(io, client, source.file, options) };
  } else if (source.source === 'github') {
    body = { source: 'github', repo: source.repo, release: source.release, asset: source.asset };
  } else {
    body = { source: 'marketplace', unique_identifier: source.unique_identifier };
  }
  // Fetching from GitHub or a marketplace and verifying 50 MiB can take a while.
  const response = await client.post<PackageRecord>('/v1/packages', {
    json: body,
    timeoutMs: Math.max(client.connection.requestTimeoutMs, 180_000),
  });
  return { package: response.body, created: response.status === 201 };
}

async function uploadFile(
  io: CliIo,
  client: ApiClient,
  file: string,
  options: { progress: boolean },
): Promise<string> {
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    size = info.size;
  } catch (error) {
    throw userPathError(error, file, 'file');
  }
  if (size === 0) throw new ValidationError(`${file} is empty.`, [{ path: 'file', message: 'empty' }]);
  if (size > MAX_PACKAGE_BYTES) {
    throw new ValidationError(`${file} has ${formatBytes(size)}; packages are limited to 50 MiB.`, [
      { path: 'file', message: 'larger than 50 MiB' },
    ]);
  }
  const { body: upload } = await client.post<{
    upload_id: string;
    url: string;
    headers: Record<string, string>;
  }>('/v1/uploads', { json: { filename: uploadFilename(file), size } });
  const bar =
    options.progress && size >= PROGRESS_THRESHOLD_BYTES
      ? new ProgressBar(io.stdout, 'uploading', size)
      : undefined;
  try {
    await putFile({
      url: upload.url,
      headers: upload.headers,
      file,
      size,
      idleTimeoutMs: client.connection.requestTimeoutMs,
      ...(bar === undefined ? {} : { onProgress: (sent: number) => bar.update(sent) }),
    });
  } finally {
    bar?.finish();
  }
  return upload.upload_id;
}

/** The server takes plain names ending .difypkg/.difybndl; anything else is tidied, not refused. */
export function uploadFilename(file: string): string {
  const name = basename(file)
    .replace(/[^A-Za-z0-9._ -]/g, '-')
    .slice(0, 180);
  return /\.(difypkg|difybndl)$/.test(name) ? name : `${name || 'package'}.difypkg`;
}

function printPackage(io: CliIo, { package: pkg, created }: PublishResult): void {
  const signature =
    pkg.signature.key_id === undefined
      ? pkg.signature.status
      : `${pkg.signature.status} (key ${pkg.signature.key_id})`;
  printFields(io, [
    ['unique_identifier', pkg.unique_identifier],
    ['plugin_id', pkg.plugin_id],
    ['version', pkg.version],
    ['size', formatBytes(pkg.size)],
    ['signature', signature],
    ['source', pkg.source.type],
    ['published', created ? `now (${pkg.published_at})` : `already (${pkg.published_at})`],
  ]);
}

export function assertIdentifier(pkg: PackageRecord, expected: string): void {
  if (pkg.unique_identifier !== expected) {
    throw new ValidationError(
      `The stage published ${pkg.unique_identifier}, not the expected ${expected}: the bytes differ.`,
      [{ path: 'unique_identifier', message: `expected ${expected}` }],
    );
  }
}
