import { describe, expect, it } from 'vitest';
import type { PackageRecord } from '#core/catalog.ts';
import { ProblemError } from '#core/errors.ts';
import { resolveDependencies } from '#core/resolver/index.ts';
import { CatalogCandidatePort, type ListVersionsPage, type MissingFetcher } from '#services/dependencies.ts';

const sum = (n: number) => n.toString(16).padStart(64, '0');

function record(pluginId: string, version: string, dependencies: unknown[] = [], n = 1): PackageRecord {
  return {
    unique_identifier: `${pluginId}:${version}@${sum(n)}`,
    plugin_id: pluginId,
    version,
    checksum: sum(n),
    sha256: sum(n + 1000),
    size: 1,
    manifest: {},
    signature: { status: 'unsigned' },
    source: { type: 'package' },
    dependencies,
    storage_key: 'k',
    published_at: '2026-01-01T00:00:00.000Z',
  };
}

/** A catalog served one record per page, so the port must follow every cursor. */
function pagedCatalog(records: PackageRecord[]): ListVersionsPage & { calls: string[] } {
  const calls: string[] = [];
  const list = async (pluginId: string, _limit: number, cursor: string | undefined) => {
    calls.push(`${pluginId}#${cursor ?? ''}`);
    const mine = records.filter((r) => r.plugin_id === pluginId);
    const index = cursor === undefined ? 0 : Number(cursor);
    return {
      items: mine.slice(index, index + 1),
      next_cursor: index + 1 < mine.length ? String(index + 1) : null,
    };
  };
  return Object.assign(list, { calls });
}

describe('CatalogCandidatePort', () => {
  it('lists every page and maps manifest dependencies to requirements', async () => {
    const pinned = record('a/pin', '1.0.0', [], 9);
    const catalog = pagedCatalog([
      record('a/x', '2.0.0', [
        { type: 'marketplace', plugin: 'a/y', version: '1.0.0-2.0.0' },
        { type: 'package', unique_identifier: pinned.unique_identifier },
      ]),
      record('a/x', '1.0.0', [], 2),
      record('a/x', '0.9.0', [], 3),
    ]);
    const port = new CatalogCandidatePort({ tenantId: null, listPage: catalog });
    const candidates = await port.versionsOf('a/x');
    expect(candidates.map((c) => c.version)).toEqual(['2.0.0', '1.0.0', '0.9.0']);
    expect(catalog.calls).toEqual(['a/x#', 'a/x#1', 'a/x#2']);
    expect(candidates[0]?.dependencies).toEqual([
      { pluginId: 'a/y', range: '1.0.0 - 2.0.0' },
      { pluginId: 'a/pin', range: '1.0.0', pinned: pinned.unique_identifier },
    ]);
    expect(port.records.size).toBe(3);
  });

  it('without a fetcher a github dependency stands for a plugin the catalog lacks', async () => {
    const github = { type: 'github', repo: 'acme/tool', release: 'v1', package: 'tool.difypkg' };
    const port = new CatalogCandidatePort({
      tenantId: null,
      listPage: pagedCatalog([record('a/x', '1.0.0', [github])]),
    });
    const error = await resolveDependencies(port, {
      roots: [{ pluginId: 'a/x', range: '*' }],
      installed: new Map(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect((error as ProblemError).message).toContain('github:acme/tool@v1/tool.difypkg');
    expect((error as ProblemError).message).toContain('not in the catalog');
  });

  it('fetches a github dependency once and requires it by its unique identifier', async () => {
    const fetchedRecord = record('gh/tool', '3.0.0', [], 7);
    const catalog: PackageRecord[] = [];
    const calls: string[] = [];
    const fetcher: MissingFetcher = {
      async github(dependency) {
        calls.push(dependency.repo);
        catalog.push(fetchedRecord);
        return fetchedRecord;
      },
      async pinned() {
        throw new Error('not used');
      },
    };
    const github = { type: 'github', repo: 'acme/tool', release: 'v3', package: 'tool.difypkg' };
    catalog.push(record('a/x', '2.0.0', [github], 1), record('a/x', '1.0.0', [github], 2));
    const port = new CatalogCandidatePort({ tenantId: null, listPage: pagedCatalog(catalog), fetcher });
    const resolution = await resolveDependencies(port, {
      roots: [{ pluginId: 'a/x', range: '^2' }],
      installed: new Map(),
    });
    expect(resolution.order.map((c) => c.uniqueIdentifier)).toEqual([
      fetchedRecord.unique_identifier,
      catalog[0]?.unique_identifier,
    ]);
    expect(calls).toEqual(['acme/tool']);
    expect(port.fetched).toEqual([
      { unique_identifier: fetchedRecord.unique_identifier, from: 'GitHub acme/tool@v3/tool.difypkg' },
    ]);
  });

  it('fetches a missing pinned build from the marketplace, within the fetch budget', async () => {
    const wanted = record('m/lib', '1.0.0', [], 5);
    const catalog: PackageRecord[] = [
      record('a/x', '1.0.0', [{ type: 'package', unique_identifier: wanted.unique_identifier }]),
    ];
    const fetcher: MissingFetcher = {
      async github() {
        throw new Error('not used');
      },
      async pinned(uid) {
        expect(uid).toBe(wanted.unique_identifier);
        catalog.push(wanted);
        return wanted;
      },
    };
    const port = new CatalogCandidatePort({ tenantId: null, listPage: pagedCatalog(catalog), fetcher });
    const resolution = await resolveDependencies(port, {
      roots: [{ pluginId: 'a/x', range: '*' }],
      installed: new Map(),
    });
    expect(resolution.order.map((c) => c.pluginId)).toEqual(['m/lib', 'a/x']);

    const stingy = new CatalogCandidatePort({
      tenantId: null,
      listPage: pagedCatalog([
        record('a/x', '1.0.0', [{ type: 'package', unique_identifier: `m/other:1.0.0@${sum(77)}` }]),
      ]),
      fetcher,
      maxFetches: 0,
    });
    const error = await resolveDependencies(stingy, {
      roots: [{ pluginId: 'a/x', range: '*' }],
      installed: new Map(),
    }).catch((e: unknown) => e);
    expect((error as ProblemError).slug).toBe('dependency-unsatisfiable');
    expect((error as ProblemError).message).toContain('already fetched 0 packages');
  });

  it('does not fetch deeper than maxDepth', async () => {
    const fetcher: MissingFetcher = {
      async github() {
        throw new Error('must not be called');
      },
      async pinned() {
        throw new Error('must not be called');
      },
    };
    const github = { type: 'github', repo: 'acme/deep', release: 'v1', package: 'deep.difypkg' };
    const port = new CatalogCandidatePort({
      tenantId: null,
      listPage: pagedCatalog([record('a/x', '1.0.0', [github])]),
      fetcher,
      maxDepth: 0,
    });
    const error = await resolveDependencies(port, {
      roots: [{ pluginId: 'a/x', range: '*' }],
      installed: new Map(),
    }).catch((e: unknown) => e);
    expect((error as ProblemError).message).toContain('fetched at most 0 levels deep');
  });
});
