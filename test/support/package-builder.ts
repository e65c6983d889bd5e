/**
 * Builds `.difypkg` archives in code, so tests never depend on opaque binary fixtures.
 *
 * - {@link buildPackage}: a valid package by default (yazl), with options to override, omit or
 *   add files, add directory entries and set the zip comment.
 * - {@link writeRawZip}: a byte-level zip writer for hostile archives yazl refuses to produce
 *   (`..` names, symlinks, encrypted flags, duplicates, lying sizes, overlapping data…).
 *
 * @example
 * const pkg = await buildPackage({ manifest: { version: '1.2.3' }, files: { 'README.md': null } });
 * const evil = writeRawZip([...defaultRawEntries(), { name: '../evil.py', content: 'x' }]);
 */
import { deflateRawSync, crc32 as zlibCrc32 } from 'node:zlib';
import yazl from 'yazl';
import {
  FIXTURE_ICON_PATH,
  FIXTURE_TOOL_PROVIDER_PATH,
  type ManifestOverrides,
  validManifestYaml,
} from './manifest-fixture.ts';

export type FileContent = string | Uint8Array;

export interface PackageOptions {
  /** Deep-merged into the fixture manifest (see `validManifest`). */
  readonly manifest?: ManifestOverrides;
  /** Raw `manifest.yaml` text; wins over `manifest`. */
  readonly manifestYaml?: string;
  /** Files to add or replace; `null` omits one of the default files. Insertion order is zip order. */
  readonly files?: Readonly<Record<string, FileContent | null>>;
  /** Directory entries (`name/`), written before the files. */
  readonly directories?: ReadonlyArray<string>;
  /** The archive comment (Dify stores its signature there). */
  readonly comment?: string | Buffer;
  /** Deflate entries (default) or store them. */
  readonly compress?: boolean;
}

/** The same instant for every entry so builds are byte-for-byte reproducible. */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);

/** The tool provider declaration the fixture manifest lists, and the tool it lists in turn. */
const PROVIDER_YAML = `identity:
  author: langgenius
  name: demo
  label:
    en_US: Demo
  description:
    en_US: A demo tool provider.
  icon: icon.svg
tools:
  - tools/demo.yaml
extra:
  python:
    source: provider/demo.py
`;

const TOOL_YAML = `identity:
  name: demo
  author: langgenius
  label:
    en_US: Demo
description:
  human:
    en_US: Echoes its input.
  llm: Echoes its input.
parameters:
  - name: text
    type: string
    required: true
    form: llm
extra:
  python:
    source: tools/demo.py
`;

/**
 * The files of a valid package, in zip order: `manifest.yaml` first, then the README, privacy
 * policy, icon, declarations and code.
 */
export function defaultPackageFiles(manifest: ManifestOverrides = {}): Map<string, FileContent> {
  return new Map<string, FileContent>([
    ['manifest.yaml', validManifestYaml(manifest)],
    ['README.md', '# Demo\n\nA demo tool plugin.\n'],
    ['PRIVACY.md', 'This plugin stores nothing.\n'],
    [FIXTURE_ICON_PATH, '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"/>\n'],
    [FIXTURE_TOOL_PROVIDER_PATH, PROVIDER_YAML],
    [
      'provider/demo.py',
      'from dify_plugin import ToolProvider\n\nclass DemoProvider(ToolProvider):\n    pass\n',
    ],
    ['tools/demo.yaml', TOOL_YAML],
    ['tools/demo.py', 'from dify_plugin import Tool\n\nclass DemoTool(Tool):\n    pass\n'],
    ['main.py', 'from dify_plugin import Plugin, DifyPluginEnv\n\nplugin = Plugin(DifyPluginEnv())\n'],
    ['requirements.txt', 'dify_plugin>=0.4.0,<0.5.0\n'],
  ]);
}

/** Resolves the options into the ordered list of files {@link buildPackage} writes. */
export function packageFiles(options: PackageOptions = {}): Map<string, FileContent> {
  const files = defaultPackageFiles(options.manifest);
  if (options.manifestYaml !== undefined) files.set('manifest.yaml', options.manifestYaml);
  for (const [name, content] of Object.entries(options.files ?? {})) {
    if (content === null) files.delete(name);
    else files.set(name, content);
  }
  return files;
}

/** A package as a Buffer (valid unless the options make it otherwise). */
export function buildPackage(options: PackageOptions = {}): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const directory of options.directories ?? []) {
    zip.addEmptyDirectory(directory, { mtime: FIXED_MTIME, forceDosTimestamp: true });
  }
  for (const [name, content] of packageFiles(options)) {
    zip.addBuffer(toBuffer(content), name, {
      compress: options.compress ?? true,
      mtime: FIXED_MTIME,
      mode: 0o100644,
      forceDosTimestamp: true,
    });
  }
  const output = collect(zip.outputStream);
  // yazl accepts a Buffer comment at runtime; its types only say string.
  zip.end({ comment: options.comment as string, forceZip64Format: false });
  return output;
}

/* ----------------------------------------------------------------------------------------------
 * Raw zip writer for hostile archives
 * ------------------------------------------------------------------------------------------- */

export interface RawZipEntry {
  /** Written verbatim (a string is UTF-8 encoded, and flagged as UTF-8 when non-ASCII). */
  readonly name: string | Uint8Array;
  /** The real (inflated) content. */
  readonly content: FileContent;
  /** 0 = stored, 8 = deflate (default), anything else is written as is (content stored). */
  readonly method?: number;
  /** Method 8 only: this raw deflate stream is written instead of deflating `content`. */
  readonly deflated?: Uint8Array;
  /** General-purpose bit flags (bit 0 = encrypted, bit 11 = UTF-8). */
  readonly flags?: number;
  /** External attributes; the high 16 bits are the unix mode (`0o120777 << 16` is a symlink). */
  readonly externalAttributes?: number;
  /** Version made by; defaults to unix (3) so the mode bits count. */
  readonly versionMadeBy?: number;
  /** Lie about the inflated size in both headers. */
  readonly declaredSize?: number;
  /** Lie about the compressed size in both headers (the real data is still written in full). */
  readonly declaredCompressedSize?: number;
  /** Lie about the CRC-32. */
  readonly crc32?: number;
  /** A different name in the local header than in the central directory. */
  readonly localName?: string | Uint8Array;
  /** Extra field, written in both headers. */
  readonly extraField?: Uint8Array;
  /** Point the central directory at another entry's local header (overlapping data). */
  readonly sharesDataWith?: number;
}

export interface RawZipOptions {
  readonly comment?: string | Uint8Array;
  /** Override the entry count in the end-of-central-directory record. */
  readonly entryCount?: number;
}

/**
 * Writes a classic (non-zip64) zip exactly as described, with no validation at all.
 *
 * @example writeRawZip([{ name: 'a.txt', content: 'hi', method: 0 }])
 */
export function writeRawZip(entries: ReadonlyArray<RawZipEntry>, options: RawZipOptions = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 0;
  entries.forEach((entry, index) => {
    const name = toBuffer(entry.name);
    const localName = entry.localName === undefined ? name : toBuffer(entry.localName);
    const content = toBuffer(entry.content);
    const method = entry.method ?? 8;
    const data =
      method === 8 ? (entry.deflated ? toBuffer(entry.deflated) : deflateRawSync(content)) : content;
    const nonAscii = typeof entry.name === 'string' && Buffer.byteLength(entry.name) !== entry.name.length;
    const flags = entry.flags ?? (nonAscii ? 0x0800 : 0);
    const crc = entry.crc32 ?? zlibCrc32(content);
    const size = entry.declaredSize ?? content.length;
    const compressedSize = entry.declaredCompressedSize ?? data.length;
    const extra = toBuffer(entry.extraField ?? new Uint8Array(0));

    let headerOffset = offset;
    if (entry.sharesDataWith !== undefined) {
      headerOffset = offsets[entry.sharesDataWith] ?? 0;
    } else {
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt16LE(flags, 6);
      local.writeUInt16LE(method, 8);
      local.writeUInt16LE(0, 10); // time
      local.writeUInt16LE(0x21, 12); // 1980-01-01
      local.writeUInt32LE(crc >>> 0, 14);
      local.writeUInt32LE(compressedSize >>> 0, 18);
      local.writeUInt32LE(size >>> 0, 22);
      local.writeUInt16LE(localName.length, 26);
      local.writeUInt16LE(extra.length, 28);
      parts.push(local, localName, extra, data);
      offset += local.length + localName.length + extra.length + data.length;
    }
    offsets[index] = headerOffset;

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(((entry.versionMadeBy ?? 3) << 8) | 20, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(flags, 8);
    header.writeUInt16LE(method, 10);
    header.writeUInt16LE(0, 12);
    header.writeUInt16LE(0x21, 14);
    header.writeUInt32LE(crc >>> 0, 16);
    header.writeUInt32LE(compressedSize >>> 0, 20);
    header.writeUInt32LE(size >>> 0, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt16LE(extra.length, 30);
    header.writeUInt16LE(0, 32); // comment length
    header.writeUInt16LE(0, 34); // disk
    header.writeUInt16LE(0, 36); // internal attributes
    header.writeUInt32LE((entry.externalAttributes ?? 0o100644 << 16) >>> 0, 38);
    header.writeUInt32LE(headerOffset, 42);
    central.push(header, name, extra);
  });
  const centralDirectory = Buffer.concat(central);
  const comment = toBuffer(options.comment ?? '');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  const count = options.entryCount ?? entries.length;
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(centralDirectory.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(comment.length, 20);
  return Buffer.concat([...parts, centralDirectory, end, comment]);
}

/** The default package's files as raw entries, to combine with a hostile one. */
export function defaultRawEntries(options: PackageOptions = {}): RawZipEntry[] {
  return [...packageFiles(options)].map(([name, content]) => ({ name, content }));
}

function toBuffer(content: FileContent): Buffer {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
}

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
