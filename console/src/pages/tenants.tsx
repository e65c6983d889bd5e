/**
 * Tenants: the operator's list, and one tenant's overview — installed plugins with version,
 * status, hold and drift badges; per plugin the revision history with Roll back; Install and
 * Upgrade with a version picker that previews the plan before confirming.
 */
import { useEffect, useState } from 'preact/hooks';
import { type Answered, api, type ItemOf, ok, pluginParams } from '../api/client.ts';
import { navigate, useSession } from '../app.tsx';
import {
  Badge,
  ConfirmButton,
  ConfirmDialog,
  formatTime,
  MoreButton,
  ProblemAlert,
  statusTone,
  usePaged,
} from '../ui.tsx';

type Installation = ItemOf<'/v1/tenants/{tenant_id}/installations'>;
type Plan = Answered<'/v1/tenants/{tenant_id}/plans', 'post'>;

export function TenantsPage() {
  const session = useSession();
  if (!session.operator && session.me.tenant_id !== null)
    return <TenantPage tenantId={session.me.tenant_id} />;
  return <TenantList />;
}

function TenantList() {
  const tenants = usePaged((cursor) => ok(api.GET('/v1/tenants', { params: { query: { cursor } } })), []);
  return (
    <section aria-labelledby="tenants-title">
      <h1 id="tenants-title">Tenants</h1>
      <ProblemAlert problem={tenants.problem} />
      <ul class="cards">
        {tenants.items.map((tenant) => (
          <li key={tenant.tenant_id}>
            <a href={`#/tenants/${encodeURIComponent(tenant.tenant_id)}`}>{tenant.tenant_id}</a>
            {tenant.display_name ? ` — ${tenant.display_name}` : ''}
            {(tenant as { dify_tenant_id?: string }).dify_tenant_id
              ? ` (Dify ${(tenant as { dify_tenant_id?: string }).dify_tenant_id})`
              : ''}
          </li>
        ))}
      </ul>
      {tenants.loaded && tenants.items.length === 0 && (
        <p>No tenants yet (create one on the Operator page).</p>
      )}
      <MoreButton list={tenants} />
    </section>
  );
}

export function TenantPage({ tenantId }: { tenantId: string }) {
  const session = useSession();
  const installs = usePaged(
    (cursor) =>
      ok(
        api.GET('/v1/tenants/{tenant_id}/installations', {
          params: { path: { tenant_id: tenantId }, query: { cursor } },
        }),
      ),
    [tenantId],
  );
  const [history, setHistory] = useState<string | null>(null);
  const canDeploy = session.can('deploy:write');
  useEffect(() => {
    if (session.operator && session.tenant !== tenantId) session.setTenant(tenantId);
  }, [tenantId]);
  return (
    <section aria-labelledby="tenant-title">
      <h1 id="tenant-title">Tenant {tenantId}</h1>
      {canDeploy && <InstallPanel tenantId={tenantId} />}
      <h2>Installed plugins</h2>
      <ProblemAlert problem={installs.problem} />
      <table>
        <caption class="sr-only">Installed plugins of {tenantId}</caption>
        <thead>
          <tr>
            <th scope="col">Plugin</th>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Updated</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {installs.items.map((item) => (
            <InstallationRow
              key={item.plugin_id}
              tenantId={tenantId}
              item={item}
              canDeploy={canDeploy}
              onHistory={() => setHistory(history === item.plugin_id ? null : item.plugin_id)}
              onChanged={() => installs.reload()}
            />
          ))}
          {installs.loaded && installs.items.length === 0 && (
            <tr>
              <td colSpan={5}>Nothing installed yet.</td>
            </tr>
          )}
        </tbody>
      </table>
      <MoreButton list={installs} />
      {history !== null && (
        <History
          key={history}
          tenantId={tenantId}
          pluginId={history}
          current={installs.items.find((item) => item.plugin_id === history)?.revision ?? 0}
          canDeploy={canDeploy}
        />
      )}
    </section>
  );
}

function InstallationRow(props: {
  tenantId: string;
  item: Installation;
  canDeploy: boolean;
  onHistory: () => void;
  onChanged: () => void;
}) {
  const { item, tenantId } = props;
  const [upgrading, setUpgrading] = useState(false);
  const drift = (item as { drift?: unknown }).drift;
  return (
    <tr data-plugin={item.plugin_id}>
      <td class="mono">{item.plugin_id}</td>
      <td>{item.version ?? '—'}</td>
      <td>
        <Badge tone={statusTone(item.status)}>{item.status}</Badge>{' '}
        {item.hold && (
          <span class="hold">
            <Badge tone="bad">held: {item.hold.unique_identifier.split('@')[0]}</Badge>{' '}
            <small>{item.hold.reason}</small>
          </span>
        )}
        {drift !== undefined && drift !== null && drift !== false && (
          <Badge tone="warn">drift{typeof drift === 'string' ? `: ${drift}` : ''}</Badge>
        )}
        {item.deployment_id && (
          <a href={`#/deployments/${encodeURIComponent(tenantId)}/${item.deployment_id}`}> deploying…</a>
        )}
      </td>
      <td>{formatTime(item.updated_at)}</td>
      <td class="actions">
        <button type="button" aria-label={`History of ${item.plugin_id}`} onClick={props.onHistory}>
          History
        </button>
        {props.canDeploy && item.status === 'installed' && (
          <button type="button" onClick={() => setUpgrading(true)}>
            Upgrade
          </button>
        )}
        {props.canDeploy && item.hold && (
          <ConfirmButton
            label="Clear hold"
            title={`Clear the hold on ${item.plugin_id}?`}
            onConfirm={async () => {
              await ok(
                api.DELETE('/v1/tenants/{tenant_id}/installations/{author}/{name}/hold', {
                  params: { path: { tenant_id: tenantId, ...pluginParams(item.plugin_id) } },
                }),
              );
              props.onChanged();
            }}
          >
            <p>Auto-upgrade may try {item.hold.unique_identifier} again.</p>
          </ConfirmButton>
        )}
        {upgrading && (
          <DeployDialog
            tenantId={tenantId}
            pluginId={item.plugin_id}
            operation="upgrade"
            current={item.unique_identifier}
            onClose={() => setUpgrading(false)}
          />
        )}
      </td>
    </tr>
  );
}

function InstallPanel({ tenantId }: { tenantId: string }) {
  const [pluginId, setPluginId] = useState('');
  const [open, setOpen] = useState(false);
  const valid = /^[a-z0-9_-]+\/[a-z0-9_-]+$/.test(pluginId);
  return (
    <form
      class="panel inline"
      onSubmit={(event) => {
        event.preventDefault();
        if (valid) setOpen(true);
      }}
    >
      <label>
        Plugin to install{' '}
        <input
          value={pluginId}
          placeholder="author/name"
          onInput={(event) => setPluginId(event.currentTarget.value.trim())}
        />
      </label>{' '}
      <button type="submit" disabled={!valid}>
        Install
      </button>
      {open && (
        <DeployDialog
          tenantId={tenantId}
          pluginId={pluginId}
          operation="install"
          current={null}
          onClose={() => setOpen(false)}
        />
      )}
    </form>
  );
}

/** Version picker + plan preview; confirming starts the deployment and opens its timeline. */
function DeployDialog(props: {
  tenantId: string;
  pluginId: string;
  operation: 'install' | 'upgrade';
  current: string | null;
  onClose: () => void;
}) {
  const versions = usePaged(
    (cursor) =>
      ok(
        api.GET('/v1/plugins/{author}/{name}/versions', {
          params: { path: pluginParams(props.pluginId), query: { cursor, limit: 100 } },
        }),
      ),
    [props.pluginId],
  );
  const [chosen, setChosen] = useState('');
  const [plan, setPlan] = useState<Plan | null>(null);
  const [planProblem, setPlanProblem] = useState<Error | null>(null);
  useEffect(() => {
    // Preselect the newest other build, but never over a choice already made: this effect runs
    // after the options are painted, so the user (or a test) may have picked one in between.
    const first = versions.items.find((pkg) => pkg.unique_identifier !== props.current);
    if (first) setChosen((current) => (current === '' ? first.unique_identifier : current));
  }, [versions.items]);
  useEffect(() => {
    if (chosen === '') return;
    setPlan(null);
    setPlanProblem(null);
    // A plan answered after another version was chosen must not stand for it.
    let stale = false;
    ok(
      api.POST('/v1/tenants/{tenant_id}/plans', {
        params: { path: { tenant_id: props.tenantId } },
        body: { install: [chosen] },
      }),
    )
      .then((answer) => {
        if (!stale) setPlan(answer);
      })
      .catch((problem: Error) => {
        if (!stale) setPlanProblem(problem);
      });
    return () => {
      stale = true;
    };
  }, [chosen]);
  const verb = props.operation === 'install' ? 'Install' : 'Upgrade';
  return (
    <ConfirmDialog
      title={`${verb} ${props.pluginId}`}
      confirmLabel={`Confirm ${props.operation}`}
      confirmDisabled={chosen === '' || plan === null}
      onClose={props.onClose}
      onConfirm={async () => {
        const deployment = await ok(
          api.POST('/v1/tenants/{tenant_id}/deployments', {
            params: { path: { tenant_id: props.tenantId } },
            body: { operation: props.operation, unique_identifier: chosen },
          }),
        );
        navigate(`#/deployments/${encodeURIComponent(props.tenantId)}/${deployment.deployment_id}`);
      }}
    >
      <ProblemAlert problem={versions.problem} />
      <label>
        Version{' '}
        <select value={chosen} onChange={(event) => setChosen(event.currentTarget.value)}>
          {versions.items.map((pkg) => (
            <option key={pkg.unique_identifier} value={pkg.unique_identifier}>
              {pkg.version} ({pkg.checksum.slice(0, 8)})
              {pkg.unique_identifier === props.current ? ' — installed' : ''}
            </option>
          ))}
        </select>
      </label>
      {props.current && (
        <p>
          Installed now: <code>{props.current}</code>
        </p>
      )}
      {planProblem !== null && (
        <div role="alert" class="problem">
          <strong>Plan</strong> {planProblem.message}
        </div>
      )}
      {plan === null && planProblem === null && chosen !== '' && <p>Computing the plan…</p>}
      {plan !== null && <PlanView plan={plan} />}
    </ConfirmDialog>
  );
}

export function PlanView({ plan }: { plan: Plan }) {
  return (
    <section class="plan" aria-label="Plan">
      <h3>Plan</h3>
      <ol>
        {plan.steps.map((step) => (
          <li key={step.unique_identifier}>
            {step.action} <span class="mono">{step.plugin_id}</span> {step.from ? `${step.from} → ` : ''}
            {step.to}
          </li>
        ))}
      </ol>
      <h3>Checks</h3>
      <ul>
        {plan.checks.map((check) => (
          <li key={check.unique_identifier}>
            <Badge tone={check.ok ? 'ok' : 'bad'}>{check.ok ? 'pass' : 'fail'}</Badge>{' '}
            <span class="mono">{check.unique_identifier}</span>
            <ul>
              {(
                [
                  'signature',
                  'permissions',
                  'platform',
                  'dependencies',
                  'integrity',
                  'source',
                  'downgrade',
                ] as const
              ).map((name) => (
                <li key={name}>
                  {name}: {check[name].status} — {check[name].detail}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </section>
  );
}

function History(props: { tenantId: string; pluginId: string; current: number; canDeploy: boolean }) {
  const revisions = usePaged(
    (cursor) =>
      ok(
        api.GET('/v1/tenants/{tenant_id}/installations/{author}/{name}/revisions', {
          params: { path: { tenant_id: props.tenantId, ...pluginParams(props.pluginId) }, query: { cursor } },
        }),
      ),
    [props.pluginId],
  );
  return (
    <section aria-labelledby="history-title" class="panel">
      <h2 id="history-title">History of {props.pluginId}</h2>
      <ProblemAlert problem={revisions.problem} />
      <table>
        <caption class="sr-only">Revisions</caption>
        <thead>
          <tr>
            <th scope="col">Revision</th>
            <th scope="col">Operation</th>
            <th scope="col">Version</th>
            <th scope="col">Outcome</th>
            <th scope="col">When</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {revisions.items.map((rev) => (
            <tr key={rev.revision}>
              <td>{rev.revision}</td>
              <td>{rev.operation}</td>
              <td>{rev.version ?? '—'}</td>
              <td>
                <Badge tone={statusTone(rev.outcome)}>{rev.outcome}</Badge>
              </td>
              <td>{formatTime(rev.created_at)}</td>
              <td>
                {props.canDeploy &&
                  rev.revision !== props.current &&
                  rev.unique_identifier !== null &&
                  (rev.outcome === 'succeeded' || rev.outcome === 'restored') && (
                    <ConfirmButton
                      label="Roll back"
                      title={`Roll back ${props.pluginId} to revision ${rev.revision}?`}
                      onConfirm={async () => {
                        const deployment = await ok(
                          api.POST('/v1/tenants/{tenant_id}/deployments', {
                            params: { path: { tenant_id: props.tenantId } },
                            body: {
                              operation: 'rollback',
                              plugin_id: props.pluginId,
                              to_revision: rev.revision,
                            },
                          }),
                        );
                        navigate(
                          `#/deployments/${encodeURIComponent(props.tenantId)}/${deployment.deployment_id}`,
                        );
                      }}
                    >
                      <p>
                        Restores <code>{rev.unique_identifier}</code> (version {rev.version}).
                      </p>
                    </ConfirmButton>
                  )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <MoreButton list={revisions} />
    </section>
  );
}
