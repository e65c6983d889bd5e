/**
 * The decoded file set check: after the manifest is valid, read the provider declaration files it
 * lists and the files those list, exactly as Dify's plugin daemon does on install
 * (dify-plugin-daemon `pkg/plugin_packager/decoder/helper.go`: `Manifest` and `CheckAssetsValid`).
 * A package Dify would refuse to decode is refused here too, each with a specific problem:
 *
 * - every provider YAML under `plugins.*` parses as a YAML mapping;
 * - tool providers' `tools`, endpoint providers' `endpoints`, agent-strategy providers'
 *   `strategies`, datasource providers' `datasources` and trigger providers' `events` list files
 *   that exist and parse as mappings;
 * - model providers' `models.<type>.position` files exist and parse as lists, and the files that
 *   `models.<type>.predefined` glob patterns match (except `*_position.yaml`) parse as mappings;
 * - provider icons (tool/datasource/trigger `identity.icon`, model `icon_small`/`icon_large` per
 *   language) exist under `_assets/`.
 */
import { parseDocument } from 'yaml';
import { type FieldError, ProblemError } from '#core/errors.ts';
import type { Manifest, PluginKind } from '#core/manifest.ts';

/** Declaration files larger than this are not read (Dify's own are a few KiB). */
export const MAX_DECLARATION_BYTES = 1024 * 1024;

/** True for the entries `inspectPackage` must hand to {@link checkDeclarations}. */
export function isDeclarationCandidate(name: string, size: number): boolean {
  return /\.ya?ml$/i.test(name) && size <= MAX_DECLARATION_BYTES;
}

/** The archive as the check sees it: every entry name, with the content of YAML entries. */
export type DecodedFiles = ReadonlyMap<string, Uint8Array | undefined>;

/** Which key of each provider kind lists its detail files (the daemon's struct tags). */
const DETAIL_LISTS: Partial<Record<PluginKind, string>> = {
  tools: 'tools',
  endpoints: 'endpoints',
  agent_strategies: 'strategies',
  datasources: 'datasources',
  triggers: 'events',
};
/** Provider kinds whose `identity.icon` must be an asset. */
const IDENTITY_ICON_KINDS: readonly PluginKind[] = ['tools', 'datasources', 'triggers'];
const MODEL_TYPES = ['llm', 'text_embedding', 'tts', 'speech2text', 'moderation', 'rerank'] as const;
const MODEL_ICON_FIELDS = ['icon_small', 'icon_large'] as const;
const MODEL_ICON_LANGUAGES = ['en_US', 'zh_Hans', 'ja_JP', 'pt_BR'] as const;

/**
 * @throws ProblemError `invalid-declaration` with one `errors[]` entry per problem, its `path`
 *   naming the file and the key (`provider/demo.yaml: tools.0`).
 * @example checkDeclarations(manifest, new Map([['provider/demo.yaml', bytes], ['main.py', undefined]]))
 */
export function checkDeclarations(manifest: Manifest, files: DecodedFiles): void {
  const errors: FieldError[] = [];
  const kinds = Object.keys(DETAIL_LISTS).concat('models') as PluginKind[];
  for (const kind of kinds) {
    (manifest.plugins[kind] ?? []).forEach((providerFile, index) => {
      const provider = readMapping(files, providerFile, `plugins.${kind}.${index}`, errors);
      if (provider === undefined) return;
      if (kind === 'models') {
        checkModelProvider(providerFile, provider, files, errors);
        return;
      }
      const listKey = DETAIL_LISTS[kind] as string;
      const list = provider[listKey];
      if (list !== undefined && list !== null && !Array.isArray(list)) {
        errors.push({ path: `${providerFile}: ${listKey}`, message: 'must be a list of file paths' });
      } else {
        (list ?? []).forEach((detailFile: unknown, detailIndex: number) => {
          const where = `${providerFile}: ${listKey}.${detailIndex}`;
          if (typeof detailFile !== 'string') errors.push({ path: where, message: 'must be a file path' });
          else readMapping(files, detailFile, where, errors);
        });
      }
      if (IDENTITY_ICON_KINDS.includes(kind)) {
        const icon = asRecord(provider.identity)?.icon;
        checkAsset(files, icon, `${providerFile}: identity.icon`, errors);
      }
    });
  }
  if (errors.length > 0) {
    const summary = errors
      .slice(0, 3)
      .map((e) => `${e.path}: ${e.message}`)
      .join('; ');
    const more = errors.length > 3 ? ` (and ${errors.length - 3} more)` : '';
    throw new ProblemError('invalid-declaration', `Dify could not load this plugin: ${summary}${more}.`, {
      errors,
    });
  }
}

function checkModelProvider(
  providerFile: string,
  provider: Record<string, unknown>,
  files: DecodedFiles,
  errors: FieldError[],
): void {
  for (const field of MODEL_ICON_FIELDS) {
    const icon = asRecord(provider[field]);
    for (const language of MODEL_ICON_LANGUAGES) {
      checkAsset(files, icon?.[language], `${providerFile}: ${field}.${language}`, errors);
    }
  }
  const models = asRecord(provider.models);
  if (models === undefined) return;
  for (const type of MODEL_TYPES) {
    const spec = asRecord(models[type]);
    if (spec === undefined) continue;
    if (typeof spec.position === 'string') {
      const where = `${providerFile}: models.${type}.position`;
      const position = readYamlFile(files, spec.position, where, errors);
      if (position !== undefined && !Array.isArray(position)) {
        errors.push({ path: where, message: `${spec.position} must be a YAML list of model names` });
      }
    }
    const patterns = Array.isArray(spec.predefined) ? spec.predefined : [];
    for (const [index, pattern] of patterns.entries()) {
      if (typeof pattern !== 'string') continue;
      const matcher = globToRegExp(pattern);
      for (const name of files.keys()) {
        if (name.endsWith('_position.yaml') || !matcher.test(name)) continue;
        readMapping(files, name, `${providerFile}: models.${type}.predefined.${index}`, errors);
      }
    }
  }
}

function checkAsset(files: DecodedFiles, icon: unknown, where: string, errors: FieldError[]): void {
  if (typeof icon !== 'string' || icon === '') return;
  if (!files.has(`_assets/${icon}`)) errors.push({ path: where, message: `_assets/${icon} does not exist` });
}

function readMapping(
  files: DecodedFiles,
  name: string,
  where: string,
  errors: FieldError[],
): Record<string, unknown> | undefined {
  const value = readYamlFile(files, name, where, errors);
  if (value === undefined) return undefined;
  const mapping = asRecord(value);
  if (mapping === undefined) errors.push({ path: where, message: `${name} must be a YAML mapping` });
  return mapping;
}

function readYamlFile(files: DecodedFiles, name: string, where: string, errors: FieldError[]): unknown {
  if (!files.has(name)) {
    errors.push({ path: where, message: `${name} does not exist in the package` });
    return undefined;
  }
  const content = files.get(name);
  if (content === undefined) {
    errors.push({
      path: where,
      message: `${name} is not a YAML file of at most ${MAX_DECLARATION_BYTES} bytes`,
    });
    return undefined;
  }
  const doc = parseDocument(Buffer.from(content).toString('utf8'), {
    version: '1.2',
    schema: 'core',
    customTags: [],
    merge: false,
    uniqueKeys: true,
    prettyErrors: true,
  });
  const problem = doc.errors[0];
  if (problem !== undefined) {
    const position = problem.linePos?.[0];
    const at = position === undefined ? '' : ` at line ${position.line}, column ${position.col}`;
    errors.push({ path: where, message: `${name} is not valid YAML${at}` });
    return undefined;
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) ?? null;
  } catch {
    errors.push({ path: where, message: `${name} expands too many aliases` });
    return undefined;
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Go's `filepath.Match` on `/` paths: `*` and `?` never cross a separator. */
function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (const char of pattern) {
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
