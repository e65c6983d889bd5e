/**
 * Builds `.difybndl` bundles in code, the way Dify's daemon writes them: `manifest.yaml` first,
 * then each embedded package under `_assets/` (Dify names them by checksum), then extra files.
 *
 * @example
 * const bundle = await buildBundle({ packages: { abc123: await buildPackage() } });
 */
import { stringify } from 'yaml';
import yazl from 'yazl';

export interface BundleOptions {
  /** Merged over a valid bundle manifest (`dependencies` replaces the generated list). */
  readonly manifest?: Record<string, unknown>;
  /** Raw manifest text; wins over `manifest`. */
  readonly manifestYaml?: string;
  /** Embedded packages by asset name (under `_assets/`), each listed as a `package` dependency. */
  readonly packages?: Readonly<Record<string, Buffer>>;
  /** Other files, by full path. */
  readonly files?: Readonly<Record<string, string | Buffer | null>>;
}

export function bundleManifest(options: BundleOptions = {}): Record<string, unknown> {
  return {
    name: 'demo-bundle',
    labels: { en_US: 'Demo bundle' },
    description: { en_US: 'A bundle for tests.' },
    icon: 'icon.svg',
    version: '0.0.1',
    author: 'langgenius',
    type: 'bundle',
    dependencies: Object.keys(options.packages ?? {}).map((path) => ({ type: 'package', value: { path } })),
    tags: [],
    ...options.manifest,
  };
}

export function buildBundle(options: BundleOptions = {}): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const fixed = { mtime: new Date(1980, 0, 1), forceDosTimestamp: true };
  zip.addBuffer(
    Buffer.from(options.manifestYaml ?? stringify(bundleManifest(options))),
    'manifest.yaml',
    fixed,
  );
  // pluginops' archive reader requires a README.md at the root of every archive it reads.
  const files = { 'README.md': '# Demo bundle\n', ...options.files };
  for (const [name, content] of Object.entries(options.packages ?? {})) {
    zip.addBuffer(content, `_assets/${name}`, { ...fixed, compress: false });
  }
  for (const [name, content] of Object.entries(files)) {
    if (content === null) continue;
    zip.addBuffer(Buffer.isBuffer(content) ? content : Buffer.from(content), name, fixed);
  }
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}
