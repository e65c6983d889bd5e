/**
 * Builds the web console (console/) when its inputs changed: generates the typed API client's
 * types from the live OpenAPI document (openapi-typescript), then bundles with Vite + Preact into
 * console/dist, which the local gateway serves at `/` and CDK uploads to the console bucket.
 * Run by `npm start` and `npm test` (pre-scripts) and by the e2e tests; a fresh build is skipped
 * by comparing a hash of every input with the one stored next to the output.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONSOLE_DIST, CONSOLE_ROOT, REPO_ROOT } from './console-paths.ts';

const SCHEMA_FILE = join(CONSOLE_ROOT, 'src', 'api', 'schema.d.ts');
const STAMP_FILE = join(CONSOLE_DIST, '.inputs-sha256');

/** Everything the output depends on: console sources, the API contract, this file, the lock file. */
async function inputFiles(): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (path !== CONSOLE_DIST && entry.name !== 'node_modules') await walk(path);
      } else if (path !== SCHEMA_FILE) files.push(path);
    }
  };
  await walk(CONSOLE_ROOT);
  await walk(join(REPO_ROOT, 'functions', 'api'));
  files.push(fileURLToPath(import.meta.url), join(REPO_ROOT, 'package-lock.json'));
  return files.sort();
}

async function inputsHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await inputFiles()) {
    hash
      .update(relative(REPO_ROOT, file))
      .update('\0')
      .update(await readFile(file))
      .update('\0');
  }
  return hash.digest('hex');
}

/** Writes console/src/api/schema.d.ts from the OpenAPI document the API serves. */
export async function generateApiTypes(): Promise<void> {
  const { buildOpenApiDocument } = await import('#api/openapi-document.ts');
  const { default: openapiTS, astToString } = await import('openapi-typescript');
  const ast = await openapiTS(buildOpenApiDocument() as never);
  const text = `/* Generated from GET /v1/openapi.json by local/console-build.ts; do not edit. */\n${astToString(ast)}`;
  await mkdir(dirname(SCHEMA_FILE), { recursive: true });
  const current = existsSync(SCHEMA_FILE) ? await readFile(SCHEMA_FILE, 'utf8') : '';
  if (current !== text) await writeFile(SCHEMA_FILE, text);
}

export interface ConsoleBuild {
  built: boolean;
  ms: number;
  dist: string;
}

export async function ensureConsoleBuilt(
  options: { force?: boolean; quiet?: boolean } = {},
): Promise<ConsoleBuild> {
  const started = performance.now();
  const hash = await inputsHash();
  const stamp = existsSync(STAMP_FILE) ? (await readFile(STAMP_FILE, 'utf8')).trim() : '';
  if (!options.force && stamp === hash && existsSync(join(CONSOLE_DIST, 'index.html'))) {
    return { built: false, ms: Math.round(performance.now() - started), dist: CONSOLE_DIST };
  }
  await generateApiTypes();
  const { build } = await import('vite');
  const { default: preact } = await import('@preact/preset-vite');
  await build({
    root: CONSOLE_ROOT,
    configFile: false,
    logLevel: options.quiet ? 'silent' : 'warn',
    plugins: [preact()],
    // No source maps or inline scripts: the CSP allows only same-origin script files.
    build: { outDir: CONSOLE_DIST, emptyOutDir: true, sourcemap: false, modulePreload: { polyfill: false } },
  });
  await writeFile(STAMP_FILE, `${hash}\n`);
  return { built: true, ms: Math.round(performance.now() - started), dist: CONSOLE_DIST };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await ensureConsoleBuilt({ force: process.argv.includes('--force') });
  console.log(result.built ? `console built in ${result.ms} ms` : `console up to date (${result.ms} ms)`);
}
