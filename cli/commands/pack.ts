/**
 * `pluginops pack <dir>`: zips a plugin directory the way Dify's packager does (regular files
 * only, no directory entries, `/` separators, `.difyignore` rules), in sorted path order with fixed
 * timestamps so the same tree always gives the same bytes, and checks the result with the same
 * inspection an upload gets before anything is written.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Command } from 'commander';
import yazl from 'yazl';
import { IgnoreRules } from '#cli/ignore-rules.ts';
import { type CliIo, printJson } from '#cli/output.ts';
import { userPathError, writeFileAtomically } from '#cli/user-files.ts';
import { PackageTooLargeError, UnsafeArchiveError, ValidationError } from '#core/errors.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { DEFAULT_PACKAGE_LIMITS, formatBytes } from '#core/package/limits.ts';

interface PackOptions {
  output?: string;
  json: boolean;
}

/** One file to pack: its path inside the package and on disk. */
export interface PackFile {
  name: string;
  path: string;
  executable: boolean;
}

/** DOS timestamps are local time; these fields give 1980-01-01 00:00 in every time zone. */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);

export function packCommand(io: CliIo): Command {
  return new Command('pack')
    .description('Package a plugin directory as a .difypkg and print its unique identifier')
    .argument('<dir>', 'plugin directory (with manifest.yaml at its root)')
    .option('-o, --output <file>', 'where to write the package (default: ./<dir name>.difypkg)')
    .option('--json', 'print the result as JSON', false)
    .action(async (dir: string, options: PackOptions) => {
      const root = resolve(dir);
      const files = await collectPluginFiles(root);
      const zip = await zipFiles(files);
      const result = await inspectPackage(byteSourceFromBuffer(zip), { keyring: [] });
      const output = resolve(options.output ?? `${basename(root)}.difypkg`);
      await writeFileAtomically(output, zip, { field: 'output' });
      if (options.json) {
        printJson(io, {
          unique_identifier: result.uniqueIdentifier,
          output,
          files: files.length,
          size: zip.byteLength,
        });
      } else {
        io.stderr(`packed ${files.length} files into ${output} (${formatBytes(zip.byteLength)})\n`);
        io.stdout(`${result.uniqueIdentifier}\n`);
      }
    });
}

/**
 * Lists the files to pack under `root`, sorted by their UTF-8 path bytes. Symlinks and special
 * files are refused (never followed); ignored directories are not descended into.
 *
 * @throws ValidationError when `root` is not a directory; UnsafeArchiveError for a symlink;
 *   PackageTooLargeError past the entry or unpacked-size caps.
 */
export async function collectPluginFiles(root: string): Promise<PackFile[]> {
  try {
    if (!(await stat(root)).isDirectory()) throw new ValidationError(`${root} is not a directory.`);
  } catch (error) {
    throw userPathError(error, root, 'dir');
  }
  const rules = await loadIgnoreRules(root);
  const files: PackFile[] = [];
  let totalBytes = 0;

  const walk = async (directory: string, prefix: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      throw userPathError(error, directory, 'dir');
    }
    for (const entry of entries) {
      const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      const path = join(directory, entry.name);
      if (rules.ignores(name, entry.isDirectory())) continue;
      if (entry.isSymbolicLink()) {
        throw new UnsafeArchiveError(`${name} is a symbolic link; packages may only contain regular files.`, {
          errors: [{ path: name, message: 'symbolic links are not packed' }],
        });
      }
      if (entry.isDirectory()) {
        await walk(path, name);
        continue;
      }
      if (!entry.isFile()) {
        throw new UnsafeArchiveError(`${name} is not a regular file.`, {
          errors: [{ path: name, message: 'only regular files are packed' }],
        });
      }
      const info = await lstat(path);
      totalBytes += info.size;
      files.push({ name, path, executable: (info.mode & 0o111) !== 0 });
      if (files.length > DEFAULT_PACKAGE_LIMITS.maxEntries) {
        throw new PackageTooLargeError(
          `The directory has more than ${DEFAULT_PACKAGE_LIMITS.maxEntries} files.`,
        );
      }
      if (totalBytes > DEFAULT_PACKAGE_LIMITS.maxUnpackedBytes) {
        throw new PackageTooLargeError(
          `The files add up to more than ${formatBytes(DEFAULT_PACKAGE_LIMITS.maxUnpackedBytes)}.`,
        );
      }
    }
  };
  await walk(root, '');
  return files.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
}

async function loadIgnoreRules(root: string): Promise<IgnoreRules> {
  for (const file of ['.difyignore', '.gitignore']) {
    const path = join(root, file);
    const info = await lstat(path).catch(() => undefined);
    if (info === undefined) continue;
    if (!info.isFile())
      throw new UnsafeArchiveError(`${file} must be a regular file, not a link or directory.`);
    return IgnoreRules.parse(await readFile(path, 'utf8'));
  }
  return IgnoreRules.none();
}

/** Deflated entries, fixed timestamps, 0644/0755 modes, in the given order. */
export async function zipFiles(files: readonly PackFile[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const output = collect(zip.outputStream);
  for (const file of files) {
    const content = await readFile(file.path);
    zip.addBuffer(content, file.name, {
      compress: true,
      mtime: FIXED_MTIME,
      mode: file.executable ? 0o100755 : 0o100644,
      forceDosTimestamp: true,
    });
  }
  zip.end();
  return output;
}

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolvePromise(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
