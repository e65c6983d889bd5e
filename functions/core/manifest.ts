/**
 * The plugin manifest (`manifest.yaml` at the package root): a safe YAML reader and the zod schema.
 *
 * The rules follow docs/design.md (#packages-and-identity, #dependencies) and, where it is
 * silent, what Dify's plugin daemon enforces (`pkg/entities/plugin_entities/plugin_declaration.go`),
 * so a manifest accepted here is one Dify accepts too. Deliberate differences from Dify:
 * - Dify checks that at least one *declaration* (tool, model, …) was loaded and which ones combine;
 *   pluginops applies the same rules to the `plugins.*` file lists, before any file is read.
 * - `meta.minimum_dify_version`, unchecked by Dify, must have the version shape (the tenant policy
 *   enforces it against the platform version).
 * - `dependencies` is pluginops' own format (docs/design.md#dependencies); Dify declares
 *   dependencies only in bundles.
 * - Unknown keys are kept, never rejected, so newer Dify fields survive a round trip.
 */
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { type FieldError, formatIssuePath, InvalidManifestError } from '#core/errors.ts';
import { isUniqueIdentifier } from '#core/unique-identifier.ts';
import { DIFY_VERSION_PATTERN, normalizeDifyRange } from '#core/version.ts';

/** docs/design.md#security: a manifest larger than this is refused before it is parsed. */
export const MAX_MANIFEST_BYTES = 256 * 1024;
/** Bounds YAML alias expansion ("billion laughs"). */
export const MAX_YAML_ALIAS_COUNT = 100;
const MAX_REPORTED_ERRORS = 50;

/** Tags Dify knows (`manifest_entities.PluginTag`); Dify rejects any other. */
export const PLUGIN_TAGS = [
  'search',
  'image',
  'videos',
  'weather',
  'finance',
  'design',
  'travel',
  'social',
  'news',
  'medical',
  'productivity',
  'education',
  'business',
  'entertainment',
  'utilities',
  'agent',
  'rag',
  'other',
  'trigger',
] as const;

/** The `plugins.*` lists, in manifest order. */
export const PLUGIN_KINDS = [
  'tools',
  'models',
  'endpoints',
  'agent_strategies',
  'datasources',
  'triggers',
] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];
/** Kinds that must be the only kind in a manifest (Dify's `ManifestValidate`). */
const STANDALONE_KINDS: readonly PluginKind[] = ['models', 'agent_strategies', 'datasources', 'triggers'];

const versionString = z
  .string()
  .regex(DIFY_VERSION_PATTERN, 'must be a version like 1.2.3 (^\\d{1,4}(\\.\\d{1,4}){2}(-\\w{1,16})?$)');

/** A path inside the package: relative, forward slashes, no `.`/`..`/empty segments. */
function isSafeRelativePath(value: string): boolean {
  if (value.startsWith('/') || value.includes('\\') || value.includes('\0') || /^[A-Za-z]:/.test(value)) {
    return false;
  }
  return value.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

const relativePath = z
  .string()
  .min(1)
  .max(128)
  .refine(isSafeRelativePath, 'must be a relative path inside the package (no leading /, no .. segments)');

const declarationPath = relativePath.refine(
  (value) => /\.ya?ml$/.test(value),
  'must be the relative path of a .yaml file',
);

/** Dify's I18nObject: `en_US` required; other locales optional; unknown locales kept. */
const localeText = z.string().max(1023);
const I18nSchema = z.looseObject({
  en_US: z.string().min(1, 'en_US must not be empty').max(1023),
  zh_Hans: localeText.optional(),
  ja_JP: localeText.optional(),
  pt_BR: localeText.optional(),
});

const enabledFlag = z.looseObject({ enabled: z.boolean().optional() });

const PermissionSchema = z.looseObject({
  tool: enabledFlag.nullish(),
  model: z
    .looseObject({
      enabled: z.boolean().optional(),
      llm: z.boolean().optional(),
      text_embedding: z.boolean().optional(),
      rerank: z.boolean().optional(),
      tts: z.boolean().optional(),
      speech2text: z.boolean().optional(),
      moderation: z.boolean().optional(),
    })
    .nullish(),
  node: enabledFlag.nullish(),
  endpoint: enabledFlag.nullish(),
  app: enabledFlag.nullish(),
  storage: z
    .looseObject({
      enabled: z.boolean().optional(),
      // Dify validates the size whenever `storage` is present, enabled or not.
      size: z
        .number()
        .int()
        .min(1024, 'must be at least 1024 bytes')
        .max(1073741824, 'must be at most 1 GiB'),
    })
    .nullish(),
});

const PluginsSchema = z
  .looseObject({
    tools: z.array(declarationPath).nullish(),
    models: z.array(declarationPath).nullish(),
    endpoints: z.array(declarationPath).nullish(),
    agent_strategies: z.array(declarationPath).nullish(),
    datasources: z.array(declarationPath).nullish(),
    triggers: z.array(declarationPath).nullish(),
  })
  .superRefine((plugins, ctx) => {
    const declared = PLUGIN_KINDS.filter((kind) => (plugins[kind]?.length ?? 0) > 0);
    if (declared.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must declare at least one of ${PLUGIN_KINDS.join(', ')}`,
        path: [],
      });
      return;
    }
    for (const kind of declared) {
      if (STANDALONE_KINDS.includes(kind) && declared.length > 1) {
        const others = declared.filter((other) => other !== kind).join(', ');
        ctx.addIssue({
          code: 'custom',
          message: `${kind} cannot be combined with ${others}: only tools and endpoints may share a plugin`,
          path: [kind],
        });
      }
    }
  });

const MetaSchema = z.looseObject({
  version: versionString,
  arch: z.array(z.enum(['amd64', 'arm64'])).min(1, 'must list at least one of amd64, arm64'),
  runner: z.looseObject({
    language: z.literal('python'),
    version: z.string().min(1).max(128),
    entrypoint: z.string().min(1).max(256),
  }),
  minimum_dify_version: versionString.nullish(),
});

/** YAML without quotes may already hold a Date (YAML 1.1 timestamps): normalise it to ISO 8601. */
const CreatedAtSchema = z.preprocess(
  (value) => (value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : value),
  z.iso.datetime({ offset: true, message: 'must be an RFC 3339 date-time, e.g. 2024-09-20T08:03:44Z' }),
);

const rangeString = z
  .string()
  .min(1)
  .max(256)
  .refine((value) => {
    try {
      normalizeDifyRange(value);
      return true;
    } catch {
      return false;
    }
  }, 'must be a version range such as 1.2.3, ^1.2, ~1.2.3, 1.x, 1.0.0-2.0.0 or >=1.0.0 <2.0.0');

/** docs/design.md#dependencies: where a dependency comes from. */
export const DependencySchema = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('marketplace'),
    plugin: z.string().regex(/^[a-z0-9_-]{1,64}\/[a-z0-9_-]{1,128}$/, 'must be a plugin id author/name'),
    version: rangeString,
  }),
  z.looseObject({
    type: z.literal('github'),
    repo: z
      .string()
      .regex(
        /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/,
        'must be a GitHub repository owner/repo',
      ),
    release: z.string().min(1).max(255),
    package: z
      .string()
      .regex(/^[^/\\\0]{1,255}\.difypkg$/, 'must be a release asset file name ending in .difypkg'),
  }),
  z.looseObject({
    type: z.literal('package'),
    unique_identifier: z
      .string()
      .refine(isUniqueIdentifier, 'must be a unique identifier author/name:version@checksum'),
  }),
]);

export const ManifestSchema = z.looseObject({
  version: versionString,
  type: z.literal('plugin'),
  author: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must match ^[a-z0-9_-]{1,64}$'),
  name: z.string().regex(/^[a-z0-9_-]{1,128}$/, 'must match ^[a-z0-9_-]{1,128}$'),
  label: I18nSchema,
  description: I18nSchema,
  /** A file under `_assets/`; that it exists is checked against the archive, not here. */
  icon: relativePath,
  icon_dark: relativePath.nullish(),
  resource: z.looseObject({
    memory: z.number().int().positive('must be a positive number of bytes'),
    permission: PermissionSchema.nullish(),
  }),
  plugins: PluginsSchema,
  meta: MetaSchema,
  created_at: CreatedAtSchema,
  tags: z.array(z.enum(PLUGIN_TAGS)).nullish(),
  // The daemon sets no length on `privacy` and accepts any absolute URL as `repo` (go-playground
  // `url`); only Dify's packager CLI is stricter, and the install path is what counts.
  privacy: z.string().nullish(),
  repo: z.union([z.literal(''), z.url({ message: 'must be an absolute URL' })]).nullish(),
  dependencies: z.array(DependencySchema).max(256).nullish(),
});

export type Manifest = z.output<typeof ManifestSchema>;
export type ManifestDependency = z.output<typeof DependencySchema>;
export type ManifestPermissions = NonNullable<Manifest['resource']['permission']>;

/**
 * Parses and validates `manifest.yaml`. The YAML is read with the 1.2 core schema only (no custom
 * tags, no timestamps, no merge keys), duplicate keys are errors and alias expansion is bounded.
 *
 * @example parseManifest(text).plugins.tools // ['provider/demo.yaml']
 * @throws InvalidManifestError for bad YAML (with line and column), a non-mapping root, or schema
 *   violations (`errors[].path` is dotted: `resource.permission.storage.size`, `plugins.tools.0`).
 */
export function parseManifest(yamlText: string): Manifest {
  if (typeof yamlText !== 'string') throw new InvalidManifestError('manifest.yaml must be text.');
  if (Buffer.byteLength(yamlText, 'utf8') > MAX_MANIFEST_BYTES) {
    throw new InvalidManifestError(`manifest.yaml is larger than ${MAX_MANIFEST_BYTES} bytes.`);
  }
  return validateManifest(readYaml(yamlText));
}

/**
 * Validates an already-parsed manifest object (e.g. from a stored JSON copy).
 *
 * @throws InvalidManifestError naming every offending field path.
 */
export function validateManifest(value: unknown): Manifest {
  if (!isPlainObject(value)) {
    throw new InvalidManifestError('manifest.yaml must be a mapping of keys to values at its root.', {
      errors: [{ path: '(root)', message: `expected a mapping, got ${describe(value)}` }],
    });
  }
  const result = ManifestSchema.safeParse(value, {
    error: (issue) =>
      issue.code === 'invalid_type' && issue.input === undefined
        ? `is required (${issue.expected})`
        : undefined,
  });
  if (result.success) return result.data;

  const errors: FieldError[] = result.error.issues
    .slice(0, MAX_REPORTED_ERRORS)
    .map((issue) => ({ path: formatIssuePath(issue.path), message: issue.message }));
  const summary = errors
    .slice(0, 3)
    .map((e) => `${e.path}: ${e.message}`)
    .join('; ');
  const more = result.error.issues.length > 3 ? ` (and ${result.error.issues.length - 3} more)` : '';
  throw new InvalidManifestError(`manifest.yaml is invalid: ${summary}${more}.`, { errors });
}

/** The plugin kinds a manifest declares (non-empty `plugins.*` lists). */
export function pluginKindsOf(manifest: Manifest): PluginKind[] {
  return PLUGIN_KINDS.filter((kind) => (manifest.plugins[kind]?.length ?? 0) > 0);
}

/** Reads YAML safely (1.2 core schema, unique keys, bounded aliases); also used for bundle manifests. */
export function readYaml(text: string): unknown {
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, {
      version: '1.2',
      schema: 'core',
      customTags: [],
      merge: false,
      uniqueKeys: true,
      strict: true,
      prettyErrors: true,
    });
  } catch (cause) {
    // Pathological nesting can exhaust the parser's stack; that is the input's fault.
    throw new InvalidManifestError('manifest.yaml could not be parsed as YAML.', { cause });
  }
  // Warnings include unresolved (custom) tags: refused rather than silently read as strings.
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    const position = problem.linePos?.[0];
    const where = position === undefined ? '' : ` at line ${position.line}, column ${position.col}`;
    const reason = problem.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? problem.code;
    throw new InvalidManifestError(`manifest.yaml is not valid YAML${where}: ${reason}`, {
      errors: [{ path: '(root)', message: `${reason}${where}` }],
      extensions: position === undefined ? undefined : { line: position.line, column: position.col },
    });
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (cause) {
    throw new InvalidManifestError('manifest.yaml expands too many aliases or nests too deeply.', { cause });
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a sequence';
  if (value === undefined) return 'an empty document';
  return `a ${typeof value}`;
}
