/** Deployments awaiting approval for the chosen tenant, with their plan; Approve / Reject. */
import { useState } from 'preact/hooks';
import { api, ok } from '../api/client.ts';
import { navigate, TenantPicker, useSession } from '../app.tsx';
import { ConfirmButton, formatTime, MoreButton, ProblemAlert, usePaged } from '../ui.tsx';

export function ApprovalsPage() {
  const session = useSession();
  return (
    <section aria-labelledby="approvals-title">
      <h1 id="approvals-title">Approvals</h1>
      <TenantPicker />
      {session.tenant && (
        <Pending key={session.tenant} tenantId={session.tenant} canDecide={session.can('deploy:write')} />
      )}
    </section>
  );
}

function Pending({ tenantId, canDecide }: { tenantId: string; canDecide: boolean }) {
  const list = usePaged(
    (cursor) =>
      ok(
        api.GET('/v1/tenants/{tenant_id}/deployments', {
          params: { path: { tenant_id: tenantId }, query: { cursor, status: 'awaiting_approval' } },
        }),
      ),
    [tenantId],
  );
  const [comment, setComment] = useState('');
  const decide = (deploymentId: string, decision: 'approve' | 'reject') => async () => {
    const path = { tenant_id: tenantId, deployment_id: deploymentId };
    const body = comment === '' ? {} : { comment };
    if (decision === 'approve')
      await ok(
        api.POST('/v1/tenants/{tenant_id}/deployments/{deployment_id}/approve', { params: { path }, body }),
      );
    else
      await ok(
        api.POST('/v1/tenants/{tenant_id}/deployments/{deployment_id}/reject', { params: { path }, body }),
      );
    navigate(`#/deployments/${encodeURIComponent(tenantId)}/${deploymentId}`);
  };
  return (
    <>
      <ProblemAlert problem={list.problem} />
      {list.loaded && list.items.length === 0 && <p>Nothing awaits approval.</p>}
      <ul class="cards">
        {list.items.map((d) => (
          <li key={d.deployment_id} class="panel">
            <h2>
              {d.operation} {d.target.unique_identifier ?? d.target.plugin_id}
            </h2>
            <p>
              Requested by {d.actor} at {formatTime(d.created_at)} ·{' '}
              <a href={`#/deployments/${encodeURIComponent(tenantId)}/${d.deployment_id}`}>timeline</a>
            </p>
            {d.plan && (
              <ol aria-label="Plan">
                {d.plan.steps.map((step) => (
                  <li key={step.plugin_id}>
                    {step.action} <span class="mono">{step.plugin_id}</span> {step.from.version ?? '∅'} →{' '}
                    {step.to.version ?? '∅'}
                  </li>
                ))}
              </ol>
            )}
            {canDecide && (
              <div class="actions">
                <ConfirmButton
                  label="Approve"
                  class="primary"
                  title="Approve this deployment?"
                  onConfirm={decide(d.deployment_id, 'approve')}
                >
                  <label>
                    Comment (optional){' '}
                    <input value={comment} onInput={(event) => setComment(event.currentTarget.value)} />
                  </label>
                </ConfirmButton>
                <ConfirmButton
                  label="Reject"
                  title="Reject this deployment?"
                  onConfirm={decide(d.deployment_id, 'reject')}
                >
                  <label>
                    Comment (optional){' '}
                    <input value={comment} onInput={(event) => setComment(event.currentTarget.value)} />
                  </label>
                </ConfirmButton>
              </div>
            )}
          </li>
        ))}
      </ul>
      <MoreButton list={list} />
    </>
  );
}
