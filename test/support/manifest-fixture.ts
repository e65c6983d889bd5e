/**
 * A valid tool-plugin manifest (`langgenius/demo`) to start tests from. Overrides are deep-merged:
 * nested objects merge, arrays and scalars replace, and an `undefined` value removes the key.
 *
 * @example validManifestYaml({ resource: { permission: { storage: { size: 1 } } } })
 * @example validManifest({ icon_dark: undefined, tags: ['search'] })
 */
import { stringify } from 'yaml';

export type ManifestOverrides = Record<string, unknown>;

/** The package stores the icon at `_assets/icon.svg`; the manifest names it relative to `_assets/`. */
export const FIXTURE_ICON_PATH = '_assets/icon.svg';
export const FIXTURE_TOOL_PROVIDER_PATH = 'provider/demo.yaml';

function baseManifest(): Record<string, unknown> {
  return {
    version: '0.0.1',
    type: 'plugin',
    author: 'langgenius',
    name: 'demo',
    label: { en_US: 'Demo', zh_Hans: '演示' },
    description: { en_US: 'A demo tool plugin.' },
    icon: 'icon.svg',
    resource: {
      memory: 268435456,
      permission: {
        tool: { enabled: true },
        model: {
          enabled: true,
          llm: true,
          text_embedding: false,
          rerank: false,
          tts: false,
          speech2text: false,
          moderation: false,
        },
        storage: { enabled: true, size: 1048576 },
      },
    },
    plugins: { tools: [FIXTURE_TOOL_PROVIDER_PATH] },
    meta: {
      version: '0.0.1',
      arch: ['amd64', 'arm64'],
      runner: { language: 'python', version: '3.12', entrypoint: 'main' },
      minimum_dify_version: null,
    },
    created_at: '2024-09-20T08:03:44.658609186Z',
    tags: ['utilities'],
    privacy: 'PRIVACY.md',
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Deep merge where `undefined` deletes; returns a new object and never mutates its inputs. */
export function deepMerge(
  base: Record<string, unknown>,
  overrides: ManifestOverrides,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) {
      delete out[key];
    } else if (isPlainObject(value) && isPlainObject(out[key])) {
      out[key] = deepMerge(out[key] as Record<string, unknown>, value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The manifest as a plain object. */
export function validManifest(overrides: ManifestOverrides = {}): Record<string, unknown> {
  return deepMerge(baseManifest(), overrides);
}

/** The manifest as `manifest.yaml` text. */
export function validManifestYaml(overrides: ManifestOverrides = {}): string {
  return stringify(validManifest(overrides));
}
