/**
 * The deploy workflow's ports wired to the real adapters: DynamoDB repositories, the package
 * bucket, the runtime (the built-in desired-state host, or a Dify plugin daemon when
 * `PLUGINOPS_RUNTIME=dify-daemon`, chosen by the configuration at each use). Built once per process where the app is assembled (the task handlers
 * in functions/tasks/, the local engine loads the same handlers).
 */
import {
  deploymentConfigSealed,
  findDeployment,
  listOpenDeployments,
  updateDeployment,
} from '#adapters/dynamo/deployments.ts';
import {
  applyRevision,
  closeAndRelease,
  finalizeRevision,
  findInstallation,
  findRevision,
  listInstalledPlugins,
  releaseLease,
  setHold,
  takeLease,
} from '#adapters/dynamo/installations.ts';
import { findPackage } from '#adapters/dynamo/packages.ts';
import { runtimeHost } from '#adapters/runtime-host.ts';
import { putJson } from '#adapters/s3/blob-store.ts';
import { describeExecution, executionArnOf } from '#adapters/workflow.ts';
import { getConfig } from '#config/runtime-config.ts';
import type { Deployment, StepName } from '#core/deploy/model.ts';
import { desiredStateGeneration } from '#core/deploy/plan.ts';
import type { DeployPorts, DeployRuntime } from '#core/deploy/ports.ts';
import { catalogPlanner } from './deploy-plan.ts';
import type { RecoveryPorts } from './deploy-recovery.ts';
import { type DeployState, deployTask, type StepImpl } from './deploy-task.ts';
import { currentKeyring, packageChecks, resultingPackages, tenantPolicy } from './deploy-verify.ts';
import { type DeploySteps, deploySteps } from './deploy-workflow.ts';
import { difyDaemonRuntime, difyDriftStore } from './dify-runtime.ts';

/** The desired-state host: the tenant's document is replaced whole, never by an older generation. */
export function desiredStateRuntime(): DeployRuntime {
  return {
    async sync(tenantId, installed, now) {
      const generation = desiredStateGeneration(installed.map((item) => item.revision));
      // An unreadable (corrupt) document is simply replaced.
      const current = await runtimeHost()
        .readDesiredState(tenantId)
        .catch(() => undefined);
      if (current !== undefined && current.generation > generation) return 'newer-present';
      await runtimeHost().writeDesiredState({
        tenant_id: tenantId,
        generation,
        updated_at: now.toISOString(),
        plugins: installed
          .filter((item) => item.status === 'installed' && item.unique_identifier !== null)
          .map((item) => ({
            plugin_id: item.plugin_id,
            unique_identifier: item.unique_identifier as string,
            package_key: item.package_key as string,
            sha256: item.sha256 as string,
          })),
      });
      return 'written';
    },
    probe: (tenantId, pluginId, uniqueIdentifier) =>
      runtimeHost().probe(tenantId, pluginId, uniqueIdentifier),
  };
}

let runtimes: { host: DeployRuntime; daemon: DeployRuntime } | undefined;

/**
 * The runtime the configuration names (`PLUGINOPS_RUNTIME`): read at each use, so a process (or a
 * test) that changes the environment and calls `resetConfigCache()` gets the other one.
 */
export function configuredRuntime(): DeployRuntime {
  runtimes ??= { host: desiredStateRuntime(), daemon: difyDaemonRuntime() };
  return getConfig().runtime === 'dify-daemon' ? runtimes.daemon : runtimes.host;
}

let ports: DeployPorts | undefined;

export function deployPorts(): DeployPorts {
  ports ??= {
    deployments: {
      find: findDeployment,
      configSealed: deploymentConfigSealed,
      update: updateDeployment,
    },
    installations: {
      find: findInstallation,
      listInstalled: listInstalledPlugins,
      takeLease,
      releaseLease,
      closeAndRelease,
      applyRevision,
      findRevision,
      finalizeRevision,
      setHold,
    },
    planner: catalogPlanner(),
    verifier: {
      tenantPolicy,
      keyring: currentKeyring,
      findPackage,
      resulting: resultingPackages,
      checks: packageChecks,
    },
    get runtime() {
      return configuredRuntime();
    },
    drift: difyDriftStore(),
    saveSnapshot: (key, snapshot) => putJson(key, snapshot),
    clock: () => new Date(),
  };
  return ports;
}

let steps: DeploySteps | undefined;

/** The workflow's steps over the real ports (what the task handlers run). */
export function realDeploySteps(): DeploySteps {
  steps ??= deploySteps(deployPorts());
  return steps;
}

/**
 * A Lambda handler for one deploy step over the real ports.
 *
 * @example export const handler = deployStepHandler('Verify', (steps) => steps.verify);
 */
export function deployStepHandler<I extends DeployState, O>(
  name: StepName,
  pick: (steps: DeploySteps) => StepImpl<I, O>,
): (input: I) => Promise<O> {
  return deployTask<I, O>(name, (input, context) => pick(realDeploySteps())(input, context), deployPorts);
}

const PAGE = 100;

/** The recovery pass over the real adapters: every tenant's open deployments, the deploy engine. */
export function realRecoveryPorts(): RecoveryPorts {
  return {
    async listOpenDeployments() {
      const open: Deployment[] = [];
      let cursor: string | undefined;
      do {
        const page = await listOpenDeployments({ limit: PAGE, cursor });
        open.push(...page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined);
      return open;
    },
    async executionRunning(deploymentId) {
      const machine = getConfig().stateMachineArns.deploy;
      const name = machine === undefined ? deploymentId : executionArnOf(machine, deploymentId);
      try {
        return (await describeExecution('deploy', name))?.status === 'RUNNING';
      } catch (error) {
        // Never started (the API stopped before starting it), or its history is gone.
        if ((error as { name?: string }).name === 'ExecutionDoesNotExist') return false;
        throw error;
      }
    },
    deploy: deployPorts(),
    steps: realDeploySteps(),
  };
}
