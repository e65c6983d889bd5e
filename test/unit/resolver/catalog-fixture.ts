/**
 * In-memory candidate port for resolver tests. Catalogs are written compactly:
 *   { 'acme/x': { '2.0.0': { 'acme/y': '^1.4' }, '1.0.0': {} } }
 * A dependency value starting with `=` pins the unique identifier of that version.
 */
import { createHash } from 'node:crypto';
import type { Candidate, CandidatePort, Requirement } from '#core/resolver/index.ts';

export type CatalogSpec = Record<string, Record<string, Record<string, string>>>;

export function uid(pluginId: string, version: string): string {
  const checksum = createHash('sha256').update(`${pluginId}:${version}`).digest('hex');
  return `${pluginId}:${version}@${checksum}`;
}

export function requirement(pluginId: string, range: string): Requirement {
  if (range.startsWith('=')) {
    const version = range.slice(1);
    return { pluginId, range: version, pinned: uid(pluginId, version) };
  }
  return { pluginId, range };
}

export function candidatesOf(spec: CatalogSpec): Map<string, Candidate[]> {
  const catalog = new Map<string, Candidate[]>();
  for (const [pluginId, versions] of Object.entries(spec)) {
    catalog.set(
      pluginId,
      Object.entries(versions).map(([version, deps]) => ({
        pluginId,
        version,
        uniqueIdentifier: uid(pluginId, version),
        dependencies: Object.entries(deps).map(([dep, range]) => requirement(dep, range)),
      })),
    );
  }
  return catalog;
}

export interface FakePort extends CandidatePort {
  /** Plugin ids asked for, in order. */
  readonly asked: string[];
}

/**
 * A port over `spec`. `reverse` reverses each version list (the port promises no order); `async`
 * answers with promises.
 */
export function fakePort(
  spec: CatalogSpec | Map<string, Candidate[]>,
  options: { async?: boolean; reverse?: boolean } = {},
): FakePort {
  const catalog = spec instanceof Map ? spec : candidatesOf(spec);
  const asked: string[] = [];
  return {
    asked,
    versionsOf(pluginId: string) {
      asked.push(pluginId);
      const list = [...(catalog.get(pluginId) ?? [])];
      if (options.reverse === true) list.reverse();
      return options.async === true ? Promise.resolve(list) : list;
    },
  };
}
