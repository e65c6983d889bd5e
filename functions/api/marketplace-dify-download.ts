/**
 * Dify's package download, both forms its client builds (langgenius/dify
 * `api/core/helper/marketplace.py`, `get_plugin_pkg_url`), GET and the HEAD its downloader sends
 * first (`api/core/helper/download.py`):
 * - `api/v1/plugins/{org}/{name}/{version}/download` — newer Dify strips the checksum, so the
 *   version's preferred build answers (the first published, `core/marketplace/latest.ts`);
 * - `api/v1/plugins/download?unique_identifier=…` — older Dify, the exact build.
 * Packages up to {@link MAX_INLINE_PACKAGE_BYTES} are streamed in the response (Lambda responses
 * are capped at 6 MB, base64 adds a third); larger ones redirect to a short-lived presigned URL,
 * which Dify's downloader follows (`follow_redirects=True`). HEAD always answers 200 with the
 * real `content-length`, so Dify's size check sees the package size, not a redirect's.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { presignGet } from '#adapters/s3/blob-store.ts';
import type { PackageRecord } from '#core/catalog.ts';
import { authorizeMarketplace, packageBytes, resolveDownload } from '#services/marketplace.ts';
import { marketplaceHandler } from '#shared/marketplace-handler.ts';
import { MarketplaceVersionParams } from './marketplace-schemas.ts';

export const MAX_INLINE_PACKAGE_BYTES = 4 * 1024 * 1024;

/** The download answer for one build (GET: the bytes or a redirect; HEAD: the headers). */
export async function answerDownload(
  record: PackageRecord,
  method: string,
): Promise<APIGatewayProxyStructuredResultV2> {
  const [, name] = record.plugin_id.split('/');
  const headers = {
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${name}-${record.version}.difypkg"`,
    etag: `"${record.sha256}"`,
    'x-unique-identifier': record.unique_identifier,
    'cache-control': 'no-store',
  };
  if (method === 'HEAD') {
    return { statusCode: 200, headers: { ...headers, 'content-length': String(record.size) }, body: '' };
  }
  if (record.size > MAX_INLINE_PACKAGE_BYTES) {
    return {
      statusCode: 302,
      headers: { location: await presignGet(record.storage_key, 300), 'cache-control': 'no-store' },
      body: '',
    };
  }
  const bytes = await packageBytes(record);
  return { statusCode: 200, headers, body: bytes.toString('base64'), isBase64Encoded: true };
}

export const handler = marketplaceHandler(
  { authorize: authorizeMarketplace, params: MarketplaceVersionParams },
  async ({ params, event }) =>
    answerDownload(
      await resolveDownload({ pluginId: `${params.org}/${params.name}`, version: params.version }),
      event.requestContext.http.method,
    ),
);
