/** Catalog: search, plugins with latest version, every build of a plugin, safe README; Publish. */
import { useEffect, useState } from 'preact/hooks';
import { api, type ItemOf, ok, pluginParams } from '../api/client.ts';
import { useSession } from '../app.tsx';
import { renderReadme } from '../readme.ts';
import { Badge, formatTime, MoreButton, ProblemAlert, statusTone, usePaged } from '../ui.tsx';
import { PublishPanel } from './publish.tsx';

type PackageItem = ItemOf<'/v1/plugins/{author}/{name}/versions'>;

export function CatalogPage() {
  const session = useSession();
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const plugins = usePaged(
    (cursor) =>
      ok(api.GET('/v1/plugins', { params: { query: { q: query || undefined, cursor, limit: 20 } } })),
    [query],
  );
  return (
    <section aria-labelledby="catalog-title">
      <h1 id="catalog-title">Catalog</h1>
      {session.can('packages:write') && <PublishPanel onPublished={() => plugins.reload()} />}
      <div class="search">
        <label for="plugin-search">Search plugins</label>
        <input
          id="plugin-search"
          type="search"
          value={query}
          onInput={(event) => setQuery(event.currentTarget.value.trim().toLowerCase())}
        />
      </div>
      <ProblemAlert problem={plugins.problem} />
      <table>
        <caption class="sr-only">Plugins</caption>
        <thead>
          <tr>
            <th scope="col">Plugin</th>
            <th scope="col">Latest version</th>
            <th scope="col">Category</th>
            <th scope="col">Builds</th>
          </tr>
        </thead>
        <tbody>
          {plugins.items.map((plugin) => (
            <tr key={plugin.plugin_id}>
              <td>
                <button type="button" class="link" onClick={() => setSelected(plugin.plugin_id)}>
                  {plugin.plugin_id}
                </button>
              </td>
              <td>{plugin.latest_version ?? '—'}</td>
              <td>{String((plugin as { category?: unknown }).category ?? '—')}</td>
              <td>{plugin.versions_count}</td>
            </tr>
          ))}
          {plugins.loaded && plugins.items.length === 0 && (
            <tr>
              <td colSpan={4}>No plugins match.</td>
            </tr>
          )}
        </tbody>
      </table>
      <MoreButton list={plugins} />
      {selected !== null && <PluginDetail key={selected} pluginId={selected} />}
    </section>
  );
}

function permissionsOf(pkg: PackageItem): string {
  const resource = (pkg.manifest as { resource?: { permission?: Record<string, unknown> } }).resource;
  const permission = resource?.permission ?? {};
  const names = Object.entries(permission)
    .filter(([, value]) => value !== null && value !== false && value !== undefined)
    .map(([name]) => name);
  return names.length === 0 ? 'none' : names.join(', ');
}

function PluginDetail({ pluginId }: { pluginId: string }) {
  const versions = usePaged(
    (cursor) =>
      ok(
        api.GET('/v1/plugins/{author}/{name}/versions', {
          params: { path: pluginParams(pluginId), query: { cursor } },
        }),
      ),
    [pluginId],
  );
  const [readmeOf, setReadmeOf] = useState<string | null>(null);
  useEffect(() => {
    if (readmeOf === null && versions.items[0]) setReadmeOf(versions.items[0].unique_identifier);
  }, [versions.items]);
  return (
    <section aria-labelledby="plugin-title" class="panel">
      <h2 id="plugin-title">{pluginId}</h2>
      <ProblemAlert problem={versions.problem} />
      <table>
        <caption class="sr-only">Builds of {pluginId}</caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Identifier</th>
            <th scope="col">Signature</th>
            <th scope="col">Permissions</th>
            <th scope="col">Published</th>
            <th scope="col">README</th>
          </tr>
        </thead>
        <tbody>
          {versions.items.map((pkg) => (
            <tr key={pkg.unique_identifier}>
              <td>{pkg.version}</td>
              <td class="mono">{pkg.unique_identifier}</td>
              <td>
                <Badge tone={statusTone(pkg.signature.status)}>{pkg.signature.status}</Badge>
                {pkg.signature.key_id ? ` ${pkg.signature.key_id}` : ''}
              </td>
              <td>{permissionsOf(pkg)}</td>
              <td>{formatTime(pkg.published_at)}</td>
              <td>
                <button
                  type="button"
                  aria-label={`Show README of ${pkg.version}`}
                  onClick={() => setReadmeOf(pkg.unique_identifier)}
                >
                  Show
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <MoreButton list={versions} />
      {readmeOf !== null && <Readme key={readmeOf} uniqueIdentifier={readmeOf} />}
    </section>
  );
}

function Readme({ uniqueIdentifier }: { uniqueIdentifier: string }) {
  const [html, setHtml] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    ok(
      api.GET('/v1/packages/{unique_identifier}/readme', {
        params: { path: { unique_identifier: uniqueIdentifier } },
      }),
    )
      .then((readme) => setHtml(renderReadme(readme.markdown)))
      .catch((problem: Error) => setError(problem.message));
  }, [uniqueIdentifier]);
  return (
    <article aria-label="README" class="readme">
      {error !== null && <p role="alert">{error}</p>}
      {/* Sanitized by renderReadme (DOMPurify): no script, no handlers, no remote images. */}
      {html !== null && <div dangerouslySetInnerHTML={{ __html: html }} />}
    </article>
  );
}
