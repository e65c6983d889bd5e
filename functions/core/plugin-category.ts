/**
 * A plugin's category, derived exactly as Dify derives it (dify-plugin-daemon
 * `pkg/entities/plugin_entities/plugin_declaration.go`, `PluginDeclaration.Category`): the first
 * kind the manifest declares in the order tool > model > datasource > agent-strategy > trigger;
 * a manifest with only endpoints is an `extension`.
 */
import type { Manifest } from '#core/manifest.ts';

export const PLUGIN_CATEGORIES = [
  'tool',
  'model',
  'datasource',
  'agent-strategy',
  'trigger',
  'extension',
] as const;
export type PluginCategory = (typeof PLUGIN_CATEGORIES)[number];

const ORDER: ReadonlyArray<[keyof Manifest['plugins'], PluginCategory]> = [
  ['tools', 'tool'],
  ['models', 'model'],
  ['datasources', 'datasource'],
  ['agent_strategies', 'agent-strategy'],
  ['triggers', 'trigger'],
];

/**
 * @example derivePluginCategory({ plugins: { tools: ['p.yaml'], endpoints: ['e.yaml'] } }) // 'tool'
 */
export function derivePluginCategory(manifest: Pick<Manifest, 'plugins'>): PluginCategory {
  for (const [kind, category] of ORDER) {
    const files = manifest.plugins[kind];
    if (Array.isArray(files) && files.length > 0) return category;
  }
  return 'extension';
}
