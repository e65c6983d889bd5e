/**
 * A tenant's catalog page: summaries recomputed from the builds it sees, plugins it sees nothing
 * of left out, the page's order kept although the plugins' versions are read concurrently.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

const store = vi.hoisted(() => ({
  plugins: [] as Array<{ plugin_id: string; latest_version: string | null; versions_count: number }>,
  versions: new Map<
    string,
    Array<{ version: string; publisher: { kind: string; tenant_id: string | null } }>
  >(),
  inFlight: 0,
  maxInFlight: 0,
}));

vi.mock('#adapters/dynamo/packages.ts', () => ({
  findPackage: vi.fn(),
  listPlugins: vi.fn(async () => ({ items: store.plugins, next_cursor: 'next' })),
  listPluginVersions: vi.fn(async (pluginId: string) => {
    store.inFlight++;
    store.maxInFlight = Math.max(store.maxInFlight, store.inFlight);
    // Later plugins answer first, so completion order differs from page order.
    await new Promise((resolve) =>
      setTimeout(resolve, 40 - store.plugins.findIndex((p) => p.plugin_id === pluginId)),
    );
    store.inFlight--;
    return { items: store.versions.get(pluginId) ?? [], next_cursor: null };
  }),
}));

const { listVisiblePlugins } = await import('#services/catalog-view.ts');

const operator = { kind: 'operator', tenant_id: null };
const tenant = (id: string) => ({ kind: 'tenant', tenant_id: id });

beforeEach(() => {
  store.plugins = [];
  store.versions.clear();
  store.maxInFlight = 0;
});

describe('listVisiblePlugins', () => {
  it('answers an operator the page as stored', async () => {
    store.plugins = [{ plugin_id: 'a/x', latest_version: '2.0.0', versions_count: 2 }];
    expect(await listVisiblePlugins({ limit: 50 }, null)).toEqual({
      items: store.plugins,
      next_cursor: 'next',
    });
  });

  it('keeps the page order, recomputes summaries and leaves out what the tenant cannot see', async () => {
    for (let i = 0; i < 20; i++) {
      const id = `a/p${i}`;
      store.plugins.push({ plugin_id: id, latest_version: '9.9.9', versions_count: 9 });
      store.versions.set(id, [
        { version: '2.0.0', publisher: tenant(i % 3 === 0 ? 'other' : 't1') },
        { version: '1.0.0', publisher: i % 3 === 0 && i % 2 === 0 ? tenant('other') : operator },
      ]);
    }
    const page = await listVisiblePlugins({ limit: 50 }, 't1');
    const expected = store.plugins.flatMap((plugin, i) => {
      if (i % 3 !== 0) return [{ plugin_id: plugin.plugin_id, latest_version: '2.0.0', versions_count: 2 }];
      if (i % 2 === 0) return [];
      return [{ plugin_id: plugin.plugin_id, latest_version: '1.0.0', versions_count: 1 }];
    });
    expect(page).toEqual({ items: expected, next_cursor: 'next' });
    expect(store.maxInFlight).toBeGreaterThan(1);
    expect(store.maxInFlight).toBeLessThanOrEqual(8);
  });
});
