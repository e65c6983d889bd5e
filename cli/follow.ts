/**
 * `--wait`: follows a deployment to its end with the right view for the audience, then turns the
 * outcome into an exit code (5 for failed / rolled_back / rejected, 7 when the wait ran out).
 */
import type { Deployment } from './api-types.ts';
import { FAILED_STATUSES } from './api-types.ts';
import type { ApiClient } from './client.ts';
import {
  LiveRegion,
  PlainStepLog,
  renderDeploymentFrame,
  type WatchResult,
  waitForDeployment,
} from './deployment-view.ts';
import { CliExitError, type CliIo, EXIT_CODES, isInteractive, useColour } from './output.ts';

export interface FollowOptions {
  timeoutSeconds: number;
  json: boolean;
}

/**
 * Live view on an interactive terminal (redrawn every 120 ms so spinners and timers move between
 * polls); otherwise one plain line per change — on stdout, or on stderr with `--json` so stdout
 * holds only the JSON document.
 */
export async function followDeployment(
  io: CliIo,
  client: ApiClient,
  initial: Deployment,
  options: FollowOptions,
): Promise<WatchResult> {
  const live = !options.json && isInteractive(io);
  if (!live) {
    const log = new PlainStepLog();
    const write = options.json ? io.stderr : io.stdout;
    const onUpdate = (deployment: Deployment) => {
      for (const line of log.lines(deployment)) write(`${line}\n`);
    };
    onUpdate(initial);
    return waitForDeployment(client, initial.tenant_id, initial.deployment_id, {
      timeoutMs: options.timeoutSeconds * 1000,
      onUpdate,
    });
  }
  const region = new LiveRegion(io.stdout);
  const colour = useColour(io);
  let latest = initial;
  let tick = 0;
  const draw = () => {
    tick += 1;
    region.draw(renderDeploymentFrame(latest, { now: Date.now(), tick, colour, columns: io.columns || 80 }));
  };
  draw();
  const timer = setInterval(draw, 120);
  try {
    return await waitForDeployment(client, initial.tenant_id, initial.deployment_id, {
      timeoutMs: options.timeoutSeconds * 1000,
      onUpdate: (deployment) => {
        latest = deployment;
      },
    });
  } finally {
    clearInterval(timer);
    draw();
  }
}

/** Throws the exit of a followed deployment that did not succeed. */
export function assertSucceeded(
  result: WatchResult,
  options: { timeoutSeconds: number; json: boolean },
): void {
  const { deployment } = result;
  if (result.timedOut) {
    throw new CliExitError(
      `error[wait-timeout] Deployment ${deployment.deployment_id} is still ${deployment.status} after ${options.timeoutSeconds}s; it goes on on the server (follow it with: pluginops status ${deployment.tenant_id} ${deployment.deployment_id} --wait).`,
      EXIT_CODES.timeout,
    );
  }
  if (FAILED_STATUSES.has(deployment.status)) {
    const reason =
      deployment.error === undefined
        ? ''
        : `: ${deployment.error.type.replace(/^urn:pluginops:problem:/, '')}: ${deployment.error.detail}`;
    throw new CliExitError(
      `error[deployment-${deployment.status.replace('_', '-')}] Deployment ${deployment.deployment_id} ${deployment.status.replace('_', ' ')}${reason}`,
      EXIT_CODES.deploymentFailed,
    );
  }
}
