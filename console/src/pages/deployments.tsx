/**
 * Deployments of the chosen tenant, and one deployment's live step timeline: polled every second
 * until the deployment ends (the API has no push channel; a second is what a person waits).
 */
import { useEffect, useState } from 'preact/hooks';
import { type Answered, type ApiProblem, api, ok, toProblem } from '../api/client.ts';
import { TenantPicker, useSession } from '../app.tsx';
import { Badge, formatTime, MoreButton, ProblemAlert, statusTone, usePaged } from '../ui.tsx';

type Deployment = Answered<'/v1/tenants/{tenant_id}/deployments/{deployment_id}', 'get'>;

/** The deploy state machine's steps in order (statemachines/deploy.asl.json). */
export const WORKFLOW_STEPS = [
  'Resolve',
  'Verify',
  'Approval',
  'Acquire',
  'Snapshot',
  'Apply',
  'Probe',
  'Release',
  'Rollback',
];
const ENDED = new Set(['succeeded', 'failed', 'rolled_back', 'rejected']);
const FAILED_SETTLE_POLLS = 5;

function hasEnded(deployment: Deployment): boolean {
  return ENDED.has(deployment.status) && !deployment.steps.some((step) => step.status === 'running');
}

export function DeploymentsPage() {
  const session = useSession();
  const tenant = session.tenant;
  return (
    <section aria-labelledby="deployments-title">
      <h1 id="deployments-title">Deployments</h1>
      <TenantPicker />
      {tenant && <DeploymentList key={tenant} tenantId={tenant} />}
    </section>
  );
}

function DeploymentList({ tenantId }: { tenantId: string }) {
  const list = usePaged(
    (cursor) =>
      ok(
        api.GET('/v1/tenants/{tenant_id}/deployments', {
          params: { path: { tenant_id: tenantId }, query: { cursor } },
        }),
      ),
    [tenantId],
  );
  return (
    <>
      <ProblemAlert problem={list.problem} />
      <table>
        <caption class="sr-only">Deployments of {tenantId}, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Deployment</th>
            <th scope="col">Operation</th>
            <th scope="col">Target</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
          </tr>
        </thead>
        <tbody>
          {list.items.map((d) => (
            <tr key={d.deployment_id}>
              <td>
                <a href={`#/deployments/${encodeURIComponent(tenantId)}/${d.deployment_id}`} class="mono">
                  {d.deployment_id}
                </a>
              </td>
              <td>{d.operation}</td>
              <td class="mono">{d.target.unique_identifier ?? d.target.plugin_id}</td>
              <td>
                <Badge tone={statusTone(d.status)}>{d.status}</Badge>
              </td>
              <td>{formatTime(d.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <MoreButton list={list} />
    </>
  );
}

function durationOf(start: string, end: string | undefined): string {
  if (end === undefined) return 'running';
  const ms = new Date(end).getTime() - new Date(start).getTime();
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function DeploymentPage({ tenantId, deploymentId }: { tenantId: string; deploymentId: string }) {
  const [deployment, setDeployment] = useState<Deployment | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  useEffect(() => {
    let stopped = false;
    let settled = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const next = await ok(
          api.GET('/v1/tenants/{tenant_id}/deployments/{deployment_id}', {
            params: { path: { tenant_id: tenantId, deployment_id: deploymentId } },
          }),
        );
        if (stopped) return;
        setDeployment(next);
        setProblem(null);
        if (hasEnded(next)) {
          settled += 1;
          // A failure after Apply reads `failed` until Rollback has restored the previous build and
          // set `rolled_back`: a few more polls follow a `failed` before the timeline stops.
          if (next.status !== 'failed' || settled > FAILED_SETTLE_POLLS) return;
        }
      } catch (error) {
        if (!stopped) setProblem(toProblem(error));
      }
      if (!stopped) timer = setTimeout(poll, 1000);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [tenantId, deploymentId]);

  const recorded = deployment?.steps ?? [];
  const names = [
    ...WORKFLOW_STEPS,
    ...recorded.map((s) => s.name).filter((n) => !WORKFLOW_STEPS.includes(n)),
  ];
  return (
    <section aria-labelledby="deployment-title">
      <h1 id="deployment-title">Deployment {deploymentId}</h1>
      <p>
        Tenant <a href={`#/tenants/${encodeURIComponent(tenantId)}`}>{tenantId}</a>
      </p>
      <ProblemAlert problem={problem} />
      {deployment && (
        <>
          <p>
            {deployment.operation}{' '}
            <span class="mono">{deployment.target.unique_identifier ?? deployment.target.plugin_id}</span> —
            status{' '}
            <span role="status" data-testid="deployment-status">
              <Badge tone={statusTone(deployment.status)}>{deployment.status}</Badge>
            </span>
          </p>
          {deployment.error && (
            <div class="problem" role="alert">
              <strong>{deployment.error.title}</strong> {deployment.error.detail}
            </div>
          )}
          <ol class="timeline" aria-label="Steps">
            {names.map((name) => {
              const step = [...recorded].reverse().find((s) => s.name === name);
              return (
                <li key={name} class={`step step-${step?.status ?? 'pending'}`}>
                  <strong>{name}</strong>{' '}
                  <Badge tone={step ? statusTone(step.status) : 'info'}>{step?.status ?? 'not run'}</Badge>
                  {step && (
                    <small>
                      {' '}
                      {formatTime(step.started_at)} · {durationOf(step.started_at, step.ended_at)}
                    </small>
                  )}
                  {step?.error && (
                    <div class="problem">
                      <strong>{step.error.title}</strong> {step.error.detail}
                    </div>
                  )}
                </li>
              );
            })}
          </ol>
        </>
      )}
    </section>
  );
}
