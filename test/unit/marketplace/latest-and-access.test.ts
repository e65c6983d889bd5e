import { afterEach, describe, expect, it } from 'vitest';
import { type CatalogBuild, latestBuild, preferredBuild } from '#core/marketplace/latest.ts';
import { PUBLIC_MARKETPLACE_SEGMENT, redactMarketplacePath } from '#core/marketplace/token.ts';
import { authorizeMarketplace } from '#services/marketplace.ts';
import { resetConfigCache } from '#shared/config.ts';

const build = (version: string, id: string, published_at?: string): CatalogBuild => ({
  version,
  unique_identifier: `a/b:${version}@${id}`,
  ...(published_at === undefined ? {} : { published_at }),
});

describe('the latest rule', () => {
  it('is the highest non-prerelease version by semver precedence, not by publication order', () => {
    const builds = [
      build('1.10.0', 'x', '2026-01-01T00:00:00Z'),
      build('1.9.0', 'y', '2026-03-01T00:00:00Z'),
      build('2.0.0-beta', 'z', '2026-04-01T00:00:00Z'),
    ];
    expect(latestBuild(builds)?.version).toBe('1.10.0');
  });

  it('falls back to the highest pre-release only when every version is one', () => {
    expect(latestBuild([build('1.0.0-alpha', 'a'), build('1.0.0-beta', 'b')])?.version).toBe('1.0.0-beta');
    expect(latestBuild([])).toBeUndefined();
  });

  it('picks the first published build of a version, whatever the listing order', () => {
    const builds = [
      build('1.0.0', 'ffff', '2026-02-01T00:00:00Z'),
      build('1.0.0', '0000', '2026-03-01T00:00:00Z'),
      build('1.0.0', 'aaaa', '2026-01-01T00:00:00Z'),
    ];
    expect(preferredBuild(builds, '1.0.0')?.unique_identifier).toBe('a/b:1.0.0@aaaa');
    expect(preferredBuild([...builds].reverse(), '1.0.0')?.unique_identifier).toBe('a/b:1.0.0@aaaa');
    expect(latestBuild(builds)?.unique_identifier).toBe('a/b:1.0.0@aaaa');
    expect(preferredBuild(builds, '2.0.0')).toBeUndefined();
  });

  it('breaks publication ties by the smaller identifier', () => {
    const at = '2026-01-01T00:00:00Z';
    expect(
      preferredBuild([build('1.0.0', 'bb', at), build('1.0.0', 'aa', at)], '1.0.0')?.unique_identifier,
    ).toBe('a/b:1.0.0@aa');
  });
});

describe('redactMarketplacePath', () => {
  it('removes the token segment and nothing else', () => {
    expect(redactMarketplacePath('/marketplace/pmt_secret/api/v1/plugins/batch')).toBe(
      '/marketplace/<redacted>/api/v1/plugins/batch',
    );
    expect(redactMarketplacePath('/v1/plugins')).toBe('/v1/plugins');
  });
});

describe('authorizeMarketplace without a token', () => {
  afterEach(() => {
    delete process.env.PLUGINOPS_MARKETPLACE_PUBLIC;
    resetConfigCache();
  });

  it('opens /marketplace/public/ only when the stage makes the marketplace public', async () => {
    resetConfigCache();
    await expect(authorizeMarketplace(PUBLIC_MARKETPLACE_SEGMENT)).rejects.toMatchObject({
      slug: 'not-found',
    });
    process.env.PLUGINOPS_MARKETPLACE_PUBLIC = 'true';
    resetConfigCache();
    await expect(authorizeMarketplace(PUBLIC_MARKETPLACE_SEGMENT)).resolves.toBeUndefined();
    // An API key in the token's place is never a marketplace token.
    await expect(authorizeMarketplace(`po_${'a'.repeat(43)}`)).rejects.toMatchObject({ slug: 'not-found' });
  });
});
