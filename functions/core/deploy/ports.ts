/**
 * The deploy workflow's ports: everything its steps read or change outside themselves. The steps
 * (functions/services/deploy-workflow.ts) take one {@link DeployPorts}; the real one is wired in
 * functions/services/deploy-ports.ts (DynamoDB, S3, the runtime host), tests pass in-memory ones.
 * Types only: no I/O lives here.
 */
import type { PackageRecord } from '#core/catalog.ts';
import type { CheckResult } from '#core/deploy/verify.ts';
import type { Problem } from '#core/errors.ts';
import type { DomainEvent } from '#core/events.ts';
import type { Keyring } from '#core/package/signature.ts';
import type { TenantPolicy } from '#core/policy.ts';
import type { Drift, ObservedPlugin } from '#core/runtime-drift.ts';
import type {
  Approval,
  Deployment,
  DeploymentOperation,
  DeploymentPlan,
  DeploymentStatus,
  DeploymentStep,
  DeploymentTarget,
  Hold,
  Installation,
  Lease,
  Revision,
  RevisionOutcome,
} from './model.ts';

/** An installation with what stays inside the service. */
export interface StoredInstallation extends Installation {
  config_sealed?: string;
  config_digest?: string;
}

export interface StoredRevision extends Revision {
  config_sealed?: string;
}

/** A change of a deployment item; `steps` entries replace the timeline entries of their names. */
export interface DeploymentChange {
  status?: DeploymentStatus;
  /** Resolve records the exact build it chose for a request by range. */
  target?: DeploymentTarget;
  plan?: DeploymentPlan;
  error?: Problem;
  approval?: Approval;
  task_token?: string;
  steps?: readonly DeploymentStep[];
  /** What Snapshot found the runtime running differently from the record. */
  drift?: readonly Drift[];
  /** Remove these attributes. */
  remove?: Array<'error' | 'task_token'>;
}

export interface DeploymentStore {
  find(tenantId: string, deploymentId: string): Promise<Deployment | undefined>;
  /** The sealed config of the request, if it carried one. */
  configSealed(tenantId: string, deploymentId: string): Promise<string | undefined>;
  /**
   * Applies `change` (only while the status is one of `onlyFrom`, when given) together with
   * `events`, atomically; false when the status did not allow it.
   */
  update(
    tenantId: string,
    deploymentId: string,
    change: DeploymentChange,
    now: Date,
    onlyFrom?: readonly DeploymentStatus[],
    events?: readonly DomainEvent[],
  ): Promise<boolean>;
}

/** The installation state a revision moves to. */
export interface InstallationState {
  unique_identifier: string | null;
  version: string | null;
  package_key: string | null;
  sha256: string | null;
  config_sealed: string | null;
  config_digest: string | null;
}

export interface ApplyRevisionInput {
  tenantId: string;
  pluginId: string;
  deploymentId: string;
  expectedRevision: number;
  state: InstallationState;
  revision: Omit<StoredRevision, 'revision' | 'tenant_id' | 'plugin_id'>;
  now: Date;
  /** Stored in the same transaction (the outbox). */
  events?: readonly DomainEvent[];
  /** Timeline entries of the deployment, written in the same transaction. */
  steps?: readonly DeploymentStep[];
}

export interface InstallationStore {
  find(tenantId: string, pluginId: string): Promise<StoredInstallation | undefined>;
  listInstalled(tenantId: string): Promise<StoredInstallation[]>;
  /** Throws a LeaseHeldError when another deployment holds a valid lease. */
  takeLease(
    tenantId: string,
    pluginId: string,
    lease: Lease,
    now: Date,
  ): Promise<{ previous: Lease | undefined }>;
  releaseLease(tenantId: string, pluginId: string, deploymentId: string): Promise<boolean>;
  /**
   * Release of one plugin in one write where the store can: revision `revision` (when the
   * deployment applied one) closed as succeeded and the lease given back. Optional: without it,
   * {@link finalizeRevision} and {@link releaseLease} are called one after the other.
   */
  closeAndRelease?(
    tenantId: string,
    pluginId: string,
    deploymentId: string,
    revision: number | undefined,
    now: Date,
  ): Promise<void>;
  /** Installation + revision `expectedRevision + 1` in one transaction (see the adapter). */
  applyRevision(
    input: ApplyRevisionInput,
  ): Promise<{ result: 'applied' | 'already-applied'; revision: number }>;
  findRevision(tenantId: string, pluginId: string, revision: number): Promise<StoredRevision | undefined>;
  finalizeRevision(
    tenantId: string,
    pluginId: string,
    revision: number,
    outcome: Exclude<RevisionOutcome, 'pending'>,
    now: Date,
  ): Promise<boolean>;
  setHold(tenantId: string, pluginId: string, hold: Hold): Promise<void>;
}

/** What a plan request needs to know about the deployment. */
export type PlanRequest = Pick<
  Deployment,
  'tenant_id' | 'operation' | 'target' | 'expected_current' | 'has_config' | 'force'
>;

export interface PlanOptions {
  /** Fetch missing dependencies from their sources (publishing them); only with `packages:write`. */
  fetchMissing: boolean;
  /** What is installed now (read once by the caller). */
  installations: readonly StoredInstallation[];
  now: Date;
}

export interface DeployPlanner {
  /** The whole plan of a deployment, dependencies first, with the basis it was made on. */
  plan(request: PlanRequest, options: PlanOptions): Promise<DeploymentPlan>;
  /** Throws a ConflictError naming installed plugins that depend on `pluginId`. */
  assertNoDependents(tenantId: string, pluginId: string): Promise<void>;
}

export interface PackageCheckRequest {
  record: PackageRecord;
  keyring: Keyring;
  policy: TenantPolicy;
  operation: DeploymentOperation;
  allowDowngrade: boolean;
  installedVersion: string | null;
  resulting: ReadonlyArray<{ plugin_id: string; version: string; unique_identifier: string }>;
}

export interface DeployVerifier {
  tenantPolicy(tenantId: string): Promise<TenantPolicy>;
  keyring(): Promise<Keyring>;
  findPackage(uniqueIdentifier: string): Promise<PackageRecord | undefined>;
  /** What the tenant runs once `planned` is applied (for dependency integrity). */
  resulting(
    planned: readonly PackageRecord[],
    installed: readonly StoredInstallation[],
    removed: ReadonlySet<string>,
  ): Promise<PackageCheckRequest['resulting']>;
  /** Every Verify rule on the stored bytes of one package. */
  checks(request: PackageCheckRequest): Promise<CheckResult[]>;
}

export interface ProbeOutcome {
  ok: boolean;
  observed?: string;
  detail: string;
}

/** The runtime that runs a tenant's plugins: the desired-state host, or a Dify plugin daemon. */
export interface DeployRuntime {
  /**
   * Makes the runtime run what `installed` says (the installation records are the truth).
   * `pluginIds`: the plugins the caller changed; a per-plugin runtime (a Dify daemon) converges
   * only those, a whole-document runtime (the built-in host) ignores it.
   */
  sync(
    tenantId: string,
    installed: readonly StoredInstallation[],
    now: Date,
    pluginIds?: readonly string[],
  ): Promise<'written' | 'newer-present'>;
  probe(tenantId: string, pluginId: string, uniqueIdentifier: string | null): Promise<ProbeOutcome>;
  /**
   * Checked at Resolve: throws a ProblemError when the tenant cannot be deployed to by this
   * runtime (a Dify daemon needs the tenant's `dify_tenant_id`). Absent: every tenant can.
   */
  assertTarget?(tenantId: string): Promise<void>;
  /**
   * What the runtime runs for the tenant, for drift at Snapshot. Only a runtime that can be
   * changed behind pluginops' back (a Dify daemon, through the Dify console) has it.
   */
  list?(tenantId: string): Promise<ObservedPlugin[]>;
}

/** An installation's drift as recorded on it. */
export type InstallationDrift = Drift & { detected_at: string; deployment_id?: string };

/** Where drift found at Snapshot is recorded, and how what the runtime runs is adopted. */
export interface DriftStore {
  /** Sets (or with null clears) the drift of one installation. */
  recordInstallation(tenantId: string, pluginId: string, drift: InstallationDrift | null): Promise<void>;
  /**
   * Records `uniqueIdentifier` (null: not installed) as the plugin's installed state, as an
   * `adopted` revision under the lease `holder` holds, with its `Installation Changed` event.
   */
  adopt(
    tenantId: string,
    pluginId: string,
    uniqueIdentifier: string | null,
    holder: string,
    actor: string,
    now: Date,
  ): Promise<{ changed: boolean }>;
}

export interface DeployPorts {
  deployments: DeploymentStore;
  installations: InstallationStore;
  planner: DeployPlanner;
  verifier: DeployVerifier;
  runtime: DeployRuntime;
  /** Drift records and adoption; needed when the runtime has `list` (see DeployRuntime). */
  drift?: DriftStore;
  /** Keeps the before-image of a deployment (S3 `backups/…`). */
  saveSnapshot(key: string, snapshot: unknown): Promise<void>;
  clock(): Date;
}
