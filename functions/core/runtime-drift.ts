/**
 * Drift: what a runtime (a Dify plugin daemon) runs differs from what pluginops recorded, because
 * someone installed, upgraded or removed a plugin in the Dify console behind pluginops' back.
 */

/** One plugin as pluginops recorded it (null: not installed). */
export interface RecordedPlugin {
  plugin_id: string;
  unique_identifier: string | null;
}

/** One plugin as the runtime lists it. */
export interface ObservedPlugin {
  plugin_id: string;
  unique_identifier: string;
}

export type DriftKind = 'installed-behind-back' | 'changed-behind-back' | 'removed-behind-back';

export interface Drift {
  plugin_id: string;
  kind: DriftKind;
  /** What pluginops recorded (null: not installed). */
  recorded: string | null;
  /** What the runtime runs (null: nothing). */
  observed: string | null;
}

/**
 * Compares the record with the runtime for the given plugins (every plugin either side names when
 * `pluginIds` is omitted). Returns one entry per plugin that differs, sorted by plugin id.
 *
 * @example
 * detectDrift([{ plugin_id: 'a/b', unique_identifier: 'a/b:1.0.0@…' }], [])
 * // → [{ plugin_id: 'a/b', kind: 'removed-behind-back', recorded: 'a/b:1.0.0@…', observed: null }]
 */
export function detectDrift(
  recorded: readonly RecordedPlugin[],
  observed: readonly ObservedPlugin[],
  pluginIds?: readonly string[],
): Drift[] {
  const record = new Map(recorded.map((item) => [item.plugin_id, item.unique_identifier]));
  const runtime = new Map(observed.map((item) => [item.plugin_id, item.unique_identifier]));
  const scope = pluginIds ?? [...new Set([...record.keys(), ...runtime.keys()])];
  const drifts: Drift[] = [];
  for (const pluginId of [...new Set(scope)].sort()) {
    const was = record.get(pluginId) ?? null;
    const is = runtime.get(pluginId) ?? null;
    if (was === is) continue;
    const kind: DriftKind =
      was === null ? 'installed-behind-back' : is === null ? 'removed-behind-back' : 'changed-behind-back';
    drifts.push({ plugin_id: pluginId, kind, recorded: was, observed: is });
  }
  return drifts;
}

/** One sentence per drift, for problems and events. */
export function describeDrift(drift: Drift): string {
  switch (drift.kind) {
    case 'installed-behind-back':
      return `${drift.plugin_id} runs ${drift.observed} in Dify, but pluginops recorded it as not installed.`;
    case 'removed-behind-back':
      return `${drift.plugin_id} was removed in Dify, but pluginops recorded ${drift.recorded}.`;
    case 'changed-behind-back':
      return `${drift.plugin_id} runs ${drift.observed} in Dify, but pluginops recorded ${drift.recorded}.`;
  }
}
