/**
 * Downloads `.difypkg` / `.difybndl` release assets through the GitHub REST API (github.com or
 * GitHub Enterprise Server, whose API base is `https://<host>/api/v3`).
 *
 * Flow: `GET /repos/{owner}/{repo}/releases/tags/{tag}` → pick the asset by exact name → check its
 * declared size against the cap → `GET` the asset's API `url` with `Accept: application/octet-stream`,
 * which answers 302 to a storage host. The token goes to the API origin only; the storage request
 * carries none (see `http-download.ts`). Private repositories answer 404 without a usable token, so
 * "not found" details say so.
 */
import { NotFoundError, PackageTooLargeError, ProblemError, ValidationError } from '#core/errors.ts';
import {
  DEFAULT_DOWNLOAD_TIMEOUT_MS,
  type DownloadResult,
  describeUrl,
  downloadToFile,
  upstreamFailed,
} from './http-download.ts';

export interface GithubClientOptions {
  /** REST API base without trailing slash: `https://api.github.com` or `https://host/api/v3`. */
  apiUrl: string;
  token?: string | undefined;
  fetchImpl?: typeof fetch;
  /** Deadline for one API call (release lookup). Default 30 s. */
  apiTimeoutMs?: number;
  /** Deadline for the asset transfer. Default 120 s. */
  downloadTimeoutMs?: number;
}

export interface GithubReleaseAssetRef {
  /** `owner/name`. */
  repo: string;
  /** Release tag name, e.g. `v1.2.0` or `release/1.2`. */
  release: string;
  /** Asset file name, ending `.difypkg` or `.difybndl`. */
  asset: string;
}

export interface GithubDownloadOptions {
  maxBytes: number;
  signal?: AbortSignal;
}

export interface GithubDownloadResult extends DownloadResult {
  /** The asset's `browser_download_url`: a credential-free link recorded as provenance. */
  assetUrl: string;
}

export interface GithubClient {
  downloadReleaseAsset(
    ref: GithubReleaseAssetRef,
    destPath: string,
    options: GithubDownloadOptions,
  ): Promise<GithubDownloadResult>;
}

/** The part of GitHub's release object we read. */
interface GithubRelease {
  tag_name?: string;
  assets?: GithubAsset[];
}

interface GithubAsset {
  id: number;
  name: string;
  size: number;
  url: string;
  browser_download_url?: string;
}

const REPO_PATTERN = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const PACKAGE_EXTENSIONS = ['.difypkg', '.difybndl'] as const;
const MAX_TAG_LENGTH = 255;
const MAX_ASSET_NAME_LENGTH = 255;
const MAX_LISTED_NAMES = 10;
/** Release JSON is small; a cap keeps a broken or hostile server from filling memory. */
const MAX_API_RESPONSE_BYTES = 5 * 1024 * 1024;
const DEFAULT_API_TIMEOUT_MS = 30_000;
const SOURCE = 'GitHub';

export function createGithubClient(options: GithubClientOptions): GithubClient {
  const apiBase = parseApiBase(options.apiUrl);
  const apiRoot = apiBase.href.replace(/\/+$/, '');
  const fetchImpl = options.fetchImpl ?? fetch;
  const apiTimeoutMs = options.apiTimeoutMs ?? DEFAULT_API_TIMEOUT_MS;
  const downloadTimeoutMs = options.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS;

  const baseHeaders: Record<string, string> = {
    'X-GitHub-Api-Version': '2022-11-28',
    'User-Agent': 'pluginops',
  };
  if (options.token !== undefined && options.token !== '') {
    baseHeaders.Authorization = `Bearer ${options.token}`;
  }

  async function getJson(path: string, signal: AbortSignal | undefined): Promise<GithubApiResponse> {
    const url = `${apiRoot}${path}`;
    const signals = [AbortSignal.timeout(apiTimeoutMs)];
    if (signal !== undefined) signals.push(signal);
    let response: Response;
    try {
      // GitHub answers 301 for renamed repositories (same origin); fetch drops Authorization on
      // any cross-origin hop, as the Fetch standard requires.
      response = await fetchImpl(url, {
        headers: { ...baseHeaders, Accept: 'application/vnd.github+json' },
        redirect: 'follow',
        signal: AbortSignal.any(signals),
      });
    } catch (error) {
      if (signal?.aborted === true) throw signal.reason;
      throw upstreamFailed(`Could not reach GitHub at ${describeUrl(url)}: ${errorKind(error)}.`, error);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      return { ok: false, status: response.status, headers: response.headers };
    }
    try {
      return { ok: true, body: JSON.parse(await readTextCapped(response, MAX_API_RESPONSE_BYTES)) };
    } catch (error) {
      if (error instanceof ProblemError) throw error;
      if (signal?.aborted === true) throw signal.reason;
      const reason = error instanceof SyntaxError ? 'unreadable JSON' : errorKind(error);
      throw upstreamFailed(`GitHub's answer for ${describeUrl(url)} failed: ${reason}.`, error);
    }
  }

  async function findRelease(owner: string, repo: string, tag: string, signal?: AbortSignal) {
    const path = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/releases/tags/${encodeURIComponent(tag)}`;
    const result = await getJson(path, signal);
    if (result.ok) return parseRelease(result.body);
    if (result.status === 404) {
      const recent = await listRecentTags(owner, repo, signal);
      throw new NotFoundError(
        `GitHub has no release tagged "${tag}" in ${owner}/${repo}` +
          ' (or the repository is private and the configured token cannot read it).' +
          (recent.length > 0 ? ` Recent releases: ${recent.join(', ')}.` : ''),
      );
    }
    throw apiStatusProblem(result.status, result.headers, `${owner}/${repo}`);
  }

  /** Best effort, only to make a not-found detail useful; its own failures are ignored. */
  async function listRecentTags(owner: string, repo: string, signal?: AbortSignal): Promise<string[]> {
    try {
      const result = await getJson(
        `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/releases?per_page=${MAX_LISTED_NAMES}`,
        signal,
      );
      if (!result.ok || !Array.isArray(result.body)) return [];
      return result.body
        .map((release: unknown) => (isRecord(release) ? release.tag_name : undefined))
        .filter((tag): tag is string => typeof tag === 'string')
        .slice(0, MAX_LISTED_NAMES);
    } catch (error) {
      if (signal?.aborted === true) throw error;
      return [];
    }
  }

  return {
    async downloadReleaseAsset(ref, destPath, downloadOptions) {
      const { owner, repo, tag, assetName } = validateRef(ref);
      const release = await findRelease(owner, repo, tag, downloadOptions.signal);
      const asset = release.assets.find((candidate) => candidate.name === assetName);
      if (asset === undefined) {
        throw new NotFoundError(
          `Release "${tag}" of ${owner}/${repo} has no asset named "${assetName}". ` +
            describeAvailableAssets(release.assets),
        );
      }
      if (asset.size > downloadOptions.maxBytes) {
        throw new PackageTooLargeError(
          `GitHub declares "${assetName}" as ${asset.size} bytes, over the ${downloadOptions.maxBytes}-byte cap.`,
          { extensions: { max_bytes: downloadOptions.maxBytes, declared_bytes: asset.size } },
        );
      }
      const assetApiUrl = parseAssetUrl(asset.url, apiBase);

      const result = await downloadToFile(assetApiUrl.href, destPath, {
        maxBytes: downloadOptions.maxBytes,
        headers: { ...baseHeaders, Accept: 'application/octet-stream' },
        timeoutMs: downloadTimeoutMs,
        expectedSize: asset.size,
        sourceName: SOURCE,
        fetchImpl,
        ...(downloadOptions.signal === undefined ? {} : { signal: downloadOptions.signal }),
      });
      return { ...result, assetUrl: asset.browser_download_url ?? assetApiUrl.href };
    },
  };
}

type GithubApiResponse = { ok: true; body: unknown } | { ok: false; status: number; headers: Headers };

function validateRef(ref: GithubReleaseAssetRef): {
  owner: string;
  repo: string;
  tag: string;
  assetName: string;
} {
  const errors: Array<{ path: string; message: string }> = [];
  const repoValue = typeof ref.repo === 'string' ? ref.repo : '';
  if (!REPO_PATTERN.test(repoValue) || repoValue.includes('..') || repoValue.split('/').includes('.')) {
    errors.push({ path: 'repo', message: 'must be "owner/name" (letters, digits, "_", ".", "-"; no "..")' });
  }
  const tag = typeof ref.release === 'string' ? ref.release : '';
  if (tag.length === 0 || tag.length > MAX_TAG_LENGTH || CONTROL_CHARACTERS.test(tag)) {
    errors.push({
      path: 'release',
      message: `must be a tag name of 1–${MAX_TAG_LENGTH} characters without control characters`,
    });
  }
  const assetName = typeof ref.asset === 'string' ? ref.asset : '';
  if (
    !PACKAGE_EXTENSIONS.some((extension) => assetName.endsWith(extension)) ||
    PACKAGE_EXTENSIONS.includes(assetName as (typeof PACKAGE_EXTENSIONS)[number]) ||
    assetName.length > MAX_ASSET_NAME_LENGTH ||
    CONTROL_CHARACTERS.test(assetName) ||
    assetName.includes('/')
  ) {
    errors.push({
      path: 'asset',
      message: 'must be a file name ending ".difypkg" or ".difybndl" (no "/", no control characters)',
    });
  }
  if (errors.length > 0) throw new ValidationError('The GitHub release reference is invalid.', errors);
  const [owner = '', repo = ''] = repoValue.split('/');
  return { owner, repo, tag, assetName };
}

function parseApiBase(apiUrl: string): URL {
  const parsed = new URL(apiUrl);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError(`GitHub API URL must be http(s), got ${parsed.protocol}`);
  }
  return parsed;
}

/**
 * The asset URL receives the token, so it must live on the API origin. GitHub always answers
 * with one; anything else means a misconfigured proxy or a hostile server.
 */
function parseAssetUrl(raw: unknown, apiBase: URL): URL {
  let parsed: URL | undefined;
  try {
    parsed = typeof raw === 'string' ? new URL(raw) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || parsed.origin !== apiBase.origin) {
    throw upstreamFailed(`GitHub returned an asset URL outside the API host ${apiBase.host}; refused.`);
  }
  return parsed;
}

function parseRelease(body: unknown): { assets: GithubAsset[] } {
  if (!isRecord(body) || !Array.isArray(body.assets)) {
    throw upstreamFailed('GitHub answered the release lookup without an assets list.');
  }
  const assets = (body as GithubRelease).assets ?? [];
  return {
    assets: assets.filter(
      (asset): asset is GithubAsset =>
        isRecord(asset) &&
        typeof asset.name === 'string' &&
        typeof asset.size === 'number' &&
        typeof asset.url === 'string',
    ),
  };
}

function describeAvailableAssets(assets: GithubAsset[]): string {
  if (assets.length === 0) return 'The release has no assets.';
  const names = assets.slice(0, MAX_LISTED_NAMES).map((asset) => `"${asset.name}"`);
  const more = assets.length > MAX_LISTED_NAMES ? ` and ${assets.length - MAX_LISTED_NAMES} more` : '';
  return `Available assets: ${names.join(', ')}${more}.`;
}

function apiStatusProblem(status: number, headers: Headers, repo: string): ProblemError {
  if (status === 401) {
    return upstreamFailed(`GitHub rejected the configured token (HTTP 401) while reading ${repo}.`);
  }
  if ((status === 403 || status === 429) && headers.get('x-ratelimit-remaining') === '0') {
    const reset = Number(headers.get('x-ratelimit-reset'));
    const when = Number.isFinite(reset) && reset > 0 ? ` until ${new Date(reset * 1000).toISOString()}` : '';
    return upstreamFailed(`GitHub's API rate limit is exhausted${when}; configure a token or retry later.`);
  }
  if (status === 403) {
    return upstreamFailed(`GitHub refused access to ${repo} (HTTP 403); check the token's permissions.`);
  }
  return upstreamFailed(`GitHub answered HTTP ${status} while reading ${repo}.`);
}

async function readTextCapped(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.length;
    if (total > maxBytes) {
      throw upstreamFailed(`GitHub's API response exceeded ${maxBytes} bytes.`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorKind(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return 'timed out';
  }
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && 'code' in cause && typeof cause.code === 'string') return cause.code;
  return 'network error';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
