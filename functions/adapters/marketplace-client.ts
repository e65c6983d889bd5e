/**
 * Downloads packages from a Dify-compatible marketplace: marketplace.dify.ai, or the
 * `/v1/marketplace` prefix of another pluginops stage (promotion dev → staging → prod).
 * Protocol: docs/decisions/002-marketplace-protocol.md.
 *
 * `GET {base}/api/v1/plugins/download?unique_identifier=<uid>` → 200 raw package bytes, 404 when
 * unknown. This is the request Dify's plugin daemon builds (`pkg/slim/local.go`,
 * `downloadFromMarketplace`); we add `Authorization: Bearer <token>` when one is configured, which
 * a pluginops stage requires (its read key) and marketplace.dify.ai ignores.
 */
import { NotFoundError, ProblemError, ValidationError } from '#core/errors.ts';
import { DEFAULT_DOWNLOAD_TIMEOUT_MS, type DownloadResult, downloadToFile } from './http-download.ts';

export interface MarketplaceClientOptions {
  /** Marketplace base without trailing slash: `https://marketplace.dify.ai` or `https://<api>/v1/marketplace`. */
  baseUrl: string;
  token?: string | undefined;
  fetchImpl?: typeof fetch;
  /** Deadline for one package transfer. Default 120 s. */
  timeoutMs?: number;
}

export interface MarketplaceDownloadOptions {
  maxBytes: number;
  signal?: AbortSignal;
}

export interface MarketplaceClient {
  downloadPackage(
    uniqueIdentifier: string,
    destPath: string,
    options: MarketplaceDownloadOptions,
  ): Promise<DownloadResult>;
}

export const MARKETPLACE_DOWNLOAD_PATH = '/api/v1/plugins/download';

/**
 * Dify's own pattern for `author/name:version@checksum` (plugin daemon,
 * `pkg/entities/plugin_entities/identity.go`); the author part is optional there.
 */
const UNIQUE_IDENTIFIER_PATTERN =
  /^(?:[a-z0-9_-]{1,64}\/)?[a-z0-9_-]{1,255}:[0-9]{1,4}(\.[0-9]{1,4}){1,3}(-\w{1,16})?@[a-f0-9]{32,64}$/;

export function createMarketplaceClient(options: MarketplaceClientOptions): MarketplaceClient {
  const base = parseBaseUrl(options.baseUrl);
  const headers: Record<string, string> = { Accept: 'application/octet-stream', 'User-Agent': 'pluginops' };
  if (options.token !== undefined && options.token !== '') headers.Authorization = `Bearer ${options.token}`;
  const source = `the marketplace at ${new URL(base).host}`;

  return {
    async downloadPackage(uniqueIdentifier, destPath, downloadOptions) {
      if (typeof uniqueIdentifier !== 'string' || !UNIQUE_IDENTIFIER_PATTERN.test(uniqueIdentifier)) {
        throw new ValidationError('The unique identifier is invalid.', [
          { path: 'unique_identifier', message: 'must look like "author/name:1.2.3@<sha256 hex>"' },
        ]);
      }
      const url = `${base}${MARKETPLACE_DOWNLOAD_PATH}?unique_identifier=${encodeURIComponent(uniqueIdentifier)}`;
      try {
        return await downloadToFile(url, destPath, {
          maxBytes: downloadOptions.maxBytes,
          headers,
          timeoutMs: options.timeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS,
          sourceName: source,
          ...(options.fetchImpl === undefined ? {} : { fetchImpl: options.fetchImpl }),
          ...(downloadOptions.signal === undefined ? {} : { signal: downloadOptions.signal }),
        });
      } catch (error) {
        // The generic detail names the URL path; the caller asked by identifier, so say that instead.
        if (error instanceof ProblemError && error.slug === 'not-found') {
          throw new NotFoundError(`${capitalize(source)} has no package ${uniqueIdentifier}.`, {
            cause: error,
          });
        }
        throw error;
      }
    },
  };
}

function parseBaseUrl(raw: string): string {
  const trimmed = raw.replace(/\/+$/, '');
  const parsed = new URL(trimmed);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError(`Marketplace URL must be http(s), got ${parsed.protocol}`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new TypeError('Marketplace URL must not carry a query or fragment');
  }
  return trimmed;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
