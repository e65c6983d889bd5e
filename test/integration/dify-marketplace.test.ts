/**
 * pluginops as a real Dify's marketplace: the test drives the local stack exactly as Dify's API
 * service does (test/support/dify-marketplace-client.ts mirrors `marketplace.py` and
 * `download.py`: yarl URL joining, no auth headers, HEAD before GET, batch answers validated field
 * by field against `MarketplacePluginDeclaration`) through the token base URL; without the token,
 * or once it is revoked, nothing is readable.
 */
import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { createApiClient } from '#test/support/api-client.ts';
import {
  createDifyMarketplaceClient,
  HttpStatusError,
  yarlJoin,
} from '#test/support/dify-marketplace-client.ts';
import { stackInfo } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const stack = stackInfo();
const call = createApiClient(stack.baseUrl);
const operator = stack.bootstrapKey;
const run = randomBytes(3).toString('hex');
const org = `mkt${run}`;
const icon = `<svg xmlns="http://www.w3.org/2000/svg" data-run="${run}"/>\n`;

function pkg(name: string, version: string, extra: Record<string, string> = {}) {
  return buildPackage({
    manifest: { author: org, name, version, meta: { version } } as never,
    files: { '_assets/icon.svg': icon, ...extra },
  });
}

async function publish(bytes: Buffer): Promise<string> {
  const response = await call('POST', '/v1/packages:raw', {
    key: operator,
    body: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
  expect(response.status, response.text).toBe(201);
  return response.body.unique_identifier as string;
}

const builds: Record<string, { uid: string; bytes: Buffer }> = {};
let token = '';
let tokenId = '';
let base = '';

beforeAll(async () => {
  const plan: Array<[string, string, string, Record<string, string>]> = [
    ['search', 'search', '1.0.0', {}],
    ['search-1.1.0-first', 'search', '1.1.0', {}],
    // A second build of 1.1.0 (other bytes, other checksum), published later.
    ['search-1.1.0-second', 'search', '1.1.0', { 'NOTES.md': 'rebuilt\n' }],
    ['search-beta', 'search', '1.2.0-beta', {}],
    ['legacy', 'legacy', '0.1.0', {}],
    ['docs', 'docs', '1.0.0', { 'readme/README_ja_JP.md': '# ドキュメント\n' }],
  ];
  for (const [label, name, version, extra] of plan) {
    const bytes = await pkg(name, version, extra);
    builds[label] = { uid: await publish(bytes), bytes };
  }
  const issued = await call('POST', '/v1/marketplace/tokens', {
    key: operator,
    json: { description: 'dify prod' },
  });
  expect(issued.status, issued.text).toBe(201);
  token = issued.body.token;
  tokenId = issued.body.token_id;
  expect(token).toMatch(/^pmt_/);
  expect(issued.body.base_path).toBe(`/marketplace/${token}`);
  // The operator puts exactly this into Dify's MARKETPLACE_API_URL (a trailing slash is fine).
  base = `${stack.baseUrl}${issued.body.base_path}/`;

  const deprecated = await call('PUT', `/v1/plugins/${org}/legacy/deprecation`, {
    key: operator,
    json: { reason: 'Replaced by search.', alternative_plugin_id: `${org}/search` },
  });
  expect(deprecated.status, deprecated.text).toBe(200);
});

function get(label: string) {
  const build = builds[label];
  if (build === undefined) throw new Error(label);
  return build;
}

describe('Dify’s marketplace client against the token base URL', () => {
  it('checks upgrades with POST api/v1/plugins/batch, every field of MarketplacePluginDeclaration', async () => {
    const dify = createDifyMarketplaceClient(base);
    const plugins = await dify.batchFetchPluginManifests([
      `${org}/search`,
      `${org}/legacy`,
      `${org}/unknown`,
    ]);
    expect(plugins.map((plugin) => plugin.plugin_id)).toEqual([`${org}/search`, `${org}/legacy`]);
    const [search, legacy] = plugins;
    // Latest = highest non-prerelease; of two 1.1.0 builds, the first published.
    expect(search).toMatchObject({
      name: 'search',
      org,
      latest_version: '1.1.0',
      latest_package_identifier: get('search-1.1.0-first').uid,
      status: 'active',
      deprecated_reason: '',
      alternative_plugin_id: '',
      label: { en_US: 'Demo' },
      brief: { en_US: 'A demo tool plugin.' },
      resource: { memory: 268435456 },
    });
    expect(legacy).toMatchObject({
      status: 'deleted',
      deprecated_reason: 'Replaced by search.',
      alternative_plugin_id: `${org}/search`,
    });
    // The icon URL answers the icon from _assets, under the same token.
    expect(search?.icon).toBe(yarlJoin(base, `api/v1/plugins/${org}/search/icon`));
    const iconResponse = await fetch(search?.icon ?? '');
    expect(iconResponse.status).toBe(200);
    expect(iconResponse.headers.get('content-type')).toBe('image/svg+xml');
    expect(await iconResponse.text()).toBe(icon);
  });

  it('downloads by the path form (newer Dify) with HEAD then GET: the version’s first build', async () => {
    const dify = createDifyMarketplaceClient(base);
    const second = get('search-1.1.0-second');
    // Dify strips the checksum, so the path names only the version: the first build answers.
    expect(dify.getPluginPkgUrl(second.uid)).toBe(
      yarlJoin(base, `api/v1/plugins/${org}/search/1.1.0/download`),
    );
    const bytes = await dify.downloadPluginPkg(second.uid);
    expect(bytes.equals(get('search-1.1.0-first').bytes)).toBe(true);
    const inspected = await inspectPackage(byteSourceFromBuffer(bytes), { keyring: [] });
    expect(inspected.uniqueIdentifier).toBe(get('search-1.1.0-first').uid);

    const head = await fetch(dify.getPluginPkgUrl(second.uid), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(bytes.length);
    // Dify refuses before downloading when HEAD says the package is too large.
    await expect(dify.downloadPluginPkg(second.uid, 100)).rejects.toThrow('Max file size reached');
  });

  it('downloads by the query form (older Dify): the exact build', async () => {
    const dify = createDifyMarketplaceClient(base);
    const second = get('search-1.1.0-second');
    const bytes = await dify.downloadWithSizeLimit(dify.downloadByIdUrl(second.uid), 50 * 1024 * 1024);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      createHash('sha256').update(second.bytes).digest('hex'),
    );
    const head = await fetch(dify.downloadByIdUrl(second.uid), { method: 'HEAD' });
    expect(Number(head.headers.get('content-length'))).toBe(second.bytes.length);
  });

  it('answers 404 for unknown builds, which Dify reads as "file not found"', async () => {
    const dify = createDifyMarketplaceClient(base);
    await expect(dify.downloadPluginPkg(`${org}/search:9.9.9@${'0'.repeat(64)}`)).rejects.toThrow(
      'file not found',
    );
    await expect(
      dify.downloadWithSizeLimit(dify.downloadByIdUrl(`${org}/search:1.0.0@${'0'.repeat(64)}`), 1e9),
    ).rejects.toThrow('file not found');
  });

  it('serves the manifest snapshot with download URLs that work', async () => {
    const dify = createDifyMarketplaceClient(base);
    const snapshot = await dify.fetchGlobalPluginManifest();
    const search = snapshot.find((entry) => entry.plugin_id === `${org}/search`);
    expect(search).toEqual({
      org,
      name: 'search',
      plugin_id: `${org}/search`,
      latest_version: '1.1.0',
      latest_package_identifier: get('search-1.1.0-first').uid,
      latest_package_url: yarlJoin(base, `api/v1/plugins/${org}/search/1.1.0/download`),
    });
    const bytes = await dify.downloadWithSizeLimit(search?.latest_package_url ?? '', 1e9);
    expect(bytes.equals(get('search-1.1.0-first').bytes)).toBe(true);
  });

  it('counts installs per build', async () => {
    const dify = createDifyMarketplaceClient(base);
    const uid = get('search').uid;
    await dify.recordInstallPluginEvent(uid);
    await dify.recordInstallPluginEvent(uid);
    const count = await fetch(yarlJoin(base, 'api/v1/stats/plugins/install_count'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ unique_identifier: uid }),
    });
    expect(await count.json()).toMatchObject({ data: { unique_identifier: uid, install_count: 3 } });
    await expect(dify.recordInstallPluginEvent(`${org}/search:9.9.9@${'0'.repeat(64)}`)).rejects.toThrow(
      HttpStatusError,
    );
  });
});

describe('the catalog API shows Dify’s category', () => {
  it('derives it from the manifest on every package answer', async () => {
    const one = await call('GET', `/v1/packages/${encodeURIComponent(get('search').uid)}`, { key: operator });
    expect(one.body.category).toBe('tool');
    const versions = await call('GET', `/v1/plugins/${org}/search/versions`, { key: operator });
    expect(versions.body.items.map((item: { category: string }) => item.category)).toEqual([
      'tool',
      'tool',
      'tool',
      'tool',
    ]);
  });
});

describe('the catalog API serves READMEs when present', () => {
  it('answers README.md as en_US and readme/README_<lang>.md by language', async () => {
    const response = await call('GET', `/v1/packages/${encodeURIComponent(get('docs').uid)}/readmes`, {
      key: operator,
    });
    expect(response.status, response.text).toBe(200);
    expect(response.body.readmes).toEqual({
      en_US: '# Demo\n\nA demo tool plugin.\n',
      ja_JP: '# ドキュメント\n',
    });
  });

  it('publishes a package without README (as Dify installs it) and answers no READMEs', async () => {
    const uid = await publish(
      await buildPackage({
        manifest: { author: org, name: 'bare', version: '1.0.0', meta: { version: '1.0.0' } } as never,
        files: { 'README.md': null },
      }),
    );
    const response = await call('GET', `/v1/packages/${encodeURIComponent(uid)}/readmes`, { key: operator });
    expect(response.body).toEqual({ unique_identifier: uid, readmes: {} });
  });
});

describe('access: the token is the only way in, and it only reads', () => {
  const endpoints = (marketplace: string) => [
    () =>
      fetch(yarlJoin(marketplace, 'api/v1/plugins/batch'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ plugin_ids: [`${org}/search`] }),
      }),
    () => fetch(yarlJoin(marketplace, `api/v1/plugins/${org}/search/1.1.0/download`)),
    () => fetch(yarlJoin(marketplace, `api/v1/plugins/${org}/search/1.1.0/download`), { method: 'HEAD' }),
    () => fetch(`${yarlJoin(marketplace, 'api/v1/plugins/download')}?unique_identifier=${get('search').uid}`),
    () => fetch(yarlJoin(marketplace, 'api/v1/dist/plugins/manifest.json')),
    () => fetch(yarlJoin(marketplace, `api/v1/plugins/${org}/search/icon`)),
  ];

  it('reads nothing with a wrong or missing token, even with a valid API key in a header', async () => {
    const wrong = `${stack.baseUrl}/marketplace/pmt_${randomBytes(32).toString('base64url')}/`;
    const missing = `${stack.baseUrl}/marketplace/`;
    const apiKeyInPath = `${stack.baseUrl}/marketplace/${operator}/`;
    for (const marketplace of [wrong, missing, apiKeyInPath]) {
      for (const request of endpoints(marketplace)) {
        const response = await request();
        expect(response.status).toBe(404);
        // The same 404 as for anything that does not exist: no catalog data, no hint.
        const text = await response.text();
        expect(text).not.toContain(get('search').uid);
        expect(text).not.toContain('latest_version');
      }
    }
    const withHeader = await fetch(yarlJoin(wrong, 'api/v1/dist/plugins/manifest.json'), {
      headers: { authorization: `Bearer ${operator}` },
    });
    expect(withHeader.status).toBe(404);
  });

  it('cannot be used as an API key, nor to publish', async () => {
    const asKey = await call('GET', '/v1/plugins', { key: token });
    expect(asKey.status).toBe(401);
    const publishThroughMarketplace = await fetch(yarlJoin(base, 'api/v1/plugins'), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: await pkg('sneaky', '1.0.0'),
    });
    expect([404, 405]).toContain(publishThroughMarketplace.status);
  });

  it('never echoes the token in problems', async () => {
    const response = await fetch(yarlJoin(base, `api/v1/plugins/${org}/nope/1.0.0/download`));
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain(token);
  });

  it('keeps the Bearer form for stage-to-stage promotion', async () => {
    const uid = get('search').uid;
    const response = await call(
      'GET',
      `/v1/marketplace/api/v1/plugins/download?unique_identifier=${encodeURIComponent(uid)}`,
      { key: operator },
    );
    expect(response.status).toBe(302);
  });

  it('lists tokens without the secret, and a revoked token reads nothing at once', async () => {
    const listed = await call('GET', '/v1/marketplace/tokens?limit=100', { key: operator });
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain(token);
    expect(listed.body.items.map((item: { token_id: string }) => item.token_id)).toContain(tokenId);

    const revoked = await call('DELETE', `/v1/marketplace/tokens/${tokenId}`, { key: operator });
    expect(revoked.status).toBe(204);
    for (const request of endpoints(base)) expect((await request()).status).toBe(404);
    await expect(
      createDifyMarketplaceClient(base).batchFetchPluginManifests([`${org}/search`]),
    ).rejects.toThrow(HttpStatusError);
  });
});
