/**
 * Auto-upgrade of the chosen tenant: strategy, time of day in an IANA zone, mode with include /
 * exclude lists; the next run in the tenant's zone and the viewer's; recent sweep runs; holds with
 * Clear hold; for operators, resuming a halted canary rollout.
 */
import { useEffect, useState } from 'preact/hooks';
import { type Answered, api, ok, type paths, pluginParams } from '../api/client.ts';
import { TenantPicker, useSession } from '../app.tsx';
import { ConfirmButton, formatTime, MoreButton, ProblemAlert, useAction, usePaged } from '../ui.tsx';

type Settings = Answered<'/v1/tenants/{tenant_id}/auto-upgrade', 'get'>;
type Body = NonNullable<
  paths['/v1/tenants/{tenant_id}/auto-upgrade']['put']['requestBody']
>['content']['application/json'];

const ZONES: string[] = (() => {
  const supported =
    (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  return supported.includes('UTC') ? supported : ['UTC', ...supported];
})();
const VIEWER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

function toClock(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}
function fromClock(clock: string): number {
  const [h = '0', m = '0'] = clock.split(':');
  return Number(h) * 3600 + Number(m) * 60;
}
const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((part) => part.trim())
    .filter((part) => part !== '');

export function AutoUpgradePage() {
  const session = useSession();
  return (
    <section aria-labelledby="auto-title">
      <h1 id="auto-title">Auto-upgrade</h1>
      <TenantPicker />
      {session.tenant && <TenantAutoUpgrade key={session.tenant} tenantId={session.tenant} />}
      {session.operator && <CanaryResume />}
    </section>
  );
}

function TenantAutoUpgrade({ tenantId }: { tenantId: string }) {
  const session = useSession();
  const [settings, setSettings] = useState<Settings | null>(null);
  const [form, setForm] = useState({
    strategy: 'fix_only',
    clock: '03:00',
    zone: 'UTC',
    mode: 'all',
    include: '',
    exclude: '',
  });
  const load = useAction();
  const path = { tenant_id: tenantId };
  const apply = (s: Settings) => {
    setSettings(s);
    setForm({
      strategy: s.strategy_setting,
      clock: toClock(s.upgrade_time_of_day),
      zone: s.timezone,
      mode: s.upgrade_mode,
      include: s.include_plugins.join(', '),
      exclude: s.exclude_plugins.join(', '),
    });
  };
  useEffect(() => {
    void load.run(async () =>
      apply(await ok(api.GET('/v1/tenants/{tenant_id}/auto-upgrade', { params: { path } }))),
    );
  }, [tenantId]);
  const set = (field: keyof typeof form) => (event: { currentTarget: { value: string } }) =>
    setForm({ ...form, [field]: event.currentTarget.value });

  const body = {
    strategy_setting: form.strategy,
    upgrade_time_of_day: fromClock(form.clock),
    timezone: form.zone,
    upgrade_mode: form.mode,
    ...(form.mode === 'partial' ? { include_plugins: list(form.include) } : {}),
    ...(form.mode === 'exclude' ? { exclude_plugins: list(form.exclude) } : {}),
  } as Body;

  return (
    <>
      <ProblemAlert problem={load.problem} />
      {settings === null && load.problem === null && <p>Loading settings…</p>}
      {settings !== null && (
        <form
          class="panel grid"
          onSubmit={(event) => event.preventDefault()}
          aria-label="Auto-upgrade settings"
        >
          <label>
            Strategy
            <select value={form.strategy} onChange={set('strategy')}>
              <option value="disabled">disabled</option>
              <option value="fix_only">fix_only (patch releases)</option>
              <option value="latest">latest</option>
            </select>
          </label>
          <label>
            Time of day
            <input type="time" value={form.clock} onInput={set('clock')} step={900} />
          </label>
          <label>
            Time zone
            <select value={form.zone} onChange={set('zone')}>
              {ZONES.map((zone) => (
                <option key={zone} value={zone}>
                  {zone}
                </option>
              ))}
            </select>
          </label>
          <label>
            Mode
            <select value={form.mode} onChange={set('mode')}>
              <option value="all">all plugins</option>
              <option value="partial">only the included plugins</option>
              <option value="exclude">all but the excluded plugins</option>
            </select>
          </label>
          {form.mode === 'partial' && (
            <label>
              Included plugins
              <input value={form.include} onInput={set('include')} placeholder="author/name, …" />
            </label>
          )}
          {form.mode === 'exclude' && (
            <label>
              Excluded plugins
              <input value={form.exclude} onInput={set('exclude')} placeholder="author/name, …" />
            </label>
          )}
          {session.can('admin') && (
            <ConfirmButton
              label="Save"
              class="primary"
              title="Save auto-upgrade settings?"
              onConfirm={async () =>
                apply(await ok(api.PUT('/v1/tenants/{tenant_id}/auto-upgrade', { params: { path }, body })))
              }
            >
              <p>
                {form.strategy} at {form.clock} {form.zone}, mode {form.mode}.
              </p>
            </ConfirmButton>
          )}
        </form>
      )}
      {settings && (
        <dl class="next-run" aria-label="Next run">
          <dt>Next run ({settings.timezone})</dt>
          <dd data-testid="next-run-tenant">
            {settings.next_run_at ? formatTime(settings.next_run_at, settings.timezone) : 'disabled'}
          </dd>
          <dt>Next run (your time, {VIEWER_ZONE})</dt>
          <dd data-testid="next-run-viewer">
            {settings.next_run_at ? formatTime(settings.next_run_at, VIEWER_ZONE) : 'disabled'}
          </dd>
          {settings.warnings?.map((warning) => (
            <dd key={warning.path}>
              {warning.path}: {warning.message}
            </dd>
          ))}
        </dl>
      )}
      <Holds tenantId={tenantId} />
      <Runs tenantId={tenantId} />
    </>
  );
}

function Holds({ tenantId }: { tenantId: string }) {
  const session = useSession();
  const installs = usePaged(
    (cursor) =>
      ok(
        api.GET('/v1/tenants/{tenant_id}/installations', {
          params: { path: { tenant_id: tenantId }, query: { cursor, limit: 100 } },
        }),
      ),
    [tenantId],
  );
  const held = installs.items.filter((item) => item.hold);
  return (
    <section aria-labelledby="holds-title">
      <h2 id="holds-title">Holds</h2>
      <ProblemAlert problem={installs.problem} />
      {installs.loaded && held.length === 0 && <p>No plugin is held.</p>}
      <ul>
        {held.map((item) => (
          <li key={item.plugin_id}>
            <span class="mono">{item.plugin_id}</span> held at {item.hold?.unique_identifier} —{' '}
            {item.hold?.reason}{' '}
            {session.can('deploy:write') && (
              <ConfirmButton
                label="Clear hold"
                title={`Clear the hold on ${item.plugin_id}?`}
                onConfirm={async () => {
                  await ok(
                    api.DELETE('/v1/tenants/{tenant_id}/installations/{author}/{name}/hold', {
                      params: { path: { tenant_id: tenantId, ...pluginParams(item.plugin_id) } },
                    }),
                  );
                  await installs.reload();
                }}
              />
            )}
          </li>
        ))}
      </ul>
      <MoreButton list={installs} />
    </section>
  );
}

function Runs({ tenantId }: { tenantId: string }) {
  const runs = usePaged(
    (cursor) =>
      ok(
        api.GET('/v1/tenants/{tenant_id}/auto-upgrade/runs', {
          params: { path: { tenant_id: tenantId }, query: { cursor } },
        }),
      ),
    [tenantId],
  );
  return (
    <section aria-labelledby="runs-title">
      <h2 id="runs-title">Recent runs</h2>
      <ProblemAlert problem={runs.problem} />
      {runs.loaded && runs.items.length === 0 && <p>No sweep has run for this tenant yet.</p>}
      <ul>
        {runs.items.map((run) => (
          <li key={run.run_at}>
            {formatTime(run.run_at)}: checked {run.checked}, upgraded {run.upgraded.length}, skipped{' '}
            {run.skipped.length}
            {run.upgraded.map((u) => (
              <span key={u.plugin_id} class="mono">
                {' '}
                {u.plugin_id} {u.from} → {u.to}
              </span>
            ))}
          </li>
        ))}
      </ul>
      <MoreButton list={runs} />
    </section>
  );
}

/** Canary rollouts halt on their own when the first wave fails; an operator resumes them here. */
function CanaryResume() {
  const [uid, setUid] = useState('');
  const [result, setResult] = useState<string | null>(null);
  return (
    <section aria-labelledby="canary-title" class="panel">
      <h2 id="canary-title">Canary rollouts</h2>
      <p>A halted rollout (its identifier is in the sweep's halted builds) resumes for every tenant.</p>
      <label>
        Halted build{' '}
        <input
          value={uid}
          onInput={(event) => setUid(event.currentTarget.value.trim())}
          placeholder="author/name:version@checksum"
        />
      </label>{' '}
      <ConfirmButton
        label="Resume rollout"
        title="Resume this halted rollout?"
        confirmDisabled={uid === ''}
        onConfirm={async () => {
          const rollout = await ok(
            api.DELETE('/v1/rollouts/{unique_identifier}/halt', {
              params: { path: { unique_identifier: uid } },
            }),
          );
          setResult(`${rollout.unique_identifier}: ${rollout.status}`);
        }}
      />
      {result && <p role="status">{result}</p>}
    </section>
  );
}
