/**
 * The deploy domain as stored and returned (snake_case, Dify's convention): deployments, their
 * plans and step timelines, installations (with their lease and hold) and revisions.
 */
import type { Problem } from '#core/errors.ts';
import type { Drift } from '#core/runtime-drift.ts';

export const DEPLOYMENT_OPERATIONS = ['install', 'upgrade', 'uninstall', 'rollback', 'auto-upgrade'] as const;
export type DeploymentOperation = (typeof DEPLOYMENT_OPERATIONS)[number];

export const DEPLOYMENT_STATUSES = [
  'pending',
  'running',
  'awaiting_approval',
  'succeeded',
  'failed',
  'rolled_back',
  'rejected',
] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** Statuses a deployment never leaves. */
export const FINAL_STATUSES: ReadonlySet<DeploymentStatus> = new Set([
  'succeeded',
  'failed',
  'rolled_back',
  'rejected',
]);

export const STEP_NAMES = [
  'Resolve',
  'Verify',
  'AwaitApproval',
  'Acquire',
  'Snapshot',
  'Apply',
  'Probe',
  'Release',
  'Rollback',
  'Alert',
  'MarkFailed',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

export interface DeploymentStep {
  name: StepName;
  status: 'running' | 'succeeded' | 'failed';
  started_at: string;
  ended_at?: string;
  error?: Problem;
}

export interface DeploymentTarget {
  unique_identifier?: string;
  plugin_id?: string;
  /** install/upgrade by range (`^1.2`, `*`): Resolve picks the build and records it in the plan. */
  version?: string;
  to_revision?: number;
}

/** The installed state of one plugin at a point in time (`null` identifier: nothing installed). */
export interface InstalledRef {
  unique_identifier: string | null;
  version: string | null;
  revision: number;
}

/** What a deployment will do to one plugin; computed by Resolve, refreshed under the lease. */
export interface PlanStep {
  plugin_id: string;
  action: 'install' | 'upgrade' | 'downgrade' | 'keep' | 'uninstall' | 'reconfigure';
  from: InstalledRef;
  to: {
    unique_identifier: string | null;
    version: string | null;
    /** S3 key and SHA-256 of the package bytes (what the runtime host downloads). */
    package_key: string | null;
    sha256: string | null;
  };
  /** Rollback only: the revision whose package (and config) is restored. */
  restore_revision?: number;
}

export interface DeploymentPlan {
  steps: PlanStep[];
  /** Install order (dependencies first). */
  order: string[];
  /**
   * The installations the plan was made against: revision (0 = never installed) of every plugin
   * it changes or relies on. Acquire confirms them under the lease; any difference sends the run
   * back to Resolve and Verify.
   */
  basis?: Record<string, number>;
  /** Set by Resolve when the plan is final for this run (the one Verify judges and Apply applies). */
  frozen_at?: string;
  /** Unique identifiers fetched from their sources to make this plan (Resolve only). */
  fetched?: string[];
}

export interface Approval {
  decision: 'approved' | 'rejected' | 'timed_out';
  by?: string;
  comment?: string;
  at: string;
}

export interface Deployment {
  deployment_id: string;
  tenant_id: string;
  operation: DeploymentOperation;
  actor: string;
  target: DeploymentTarget;
  status: DeploymentStatus;
  steps: DeploymentStep[];
  plan?: DeploymentPlan;
  error?: Problem;
  approval?: Approval;
  /** Conditional request: the unique identifier the caller expects installed (null: nothing). */
  expected_current?: string | null;
  allow_downgrade: boolean;
  /** uninstall: proceed even though other installed plugins depend on this one. */
  force?: boolean;
  /**
   * Resolve may fetch missing dependencies from their sources (publishing them to the catalog):
   * only when the requester held `packages:write` (or is the system itself).
   */
  may_fetch?: boolean;
  /** True when the request carried a config (kept sealed; never returned). */
  has_config: boolean;
  /** SHA-256 of the request's canonical config JSON, when it carried one. */
  config_digest?: string;
  approval_timeout_seconds: number;
  /** Differences between the Dify plugin daemon and the record found at Snapshot. */
  drift?: Drift[];
  created_at: string;
  updated_at: string;
}

export interface Hold {
  unique_identifier: string;
  reason: string;
  set_at: string;
  deployment_id?: string;
}

/** A lease: who may change the plugin, until when. A lease past `expires_at` may be taken over. */
export interface Lease {
  deployment_id: string;
  expires_at: string;
  /** `reserved` by the API at create time; `acquired` once the workflow's Acquire took it. */
  phase: 'reserved' | 'acquired';
  /** The expired lease this one replaced, whose half-done work is still to be settled. */
  inherited_from?: string;
}

export interface Installation {
  tenant_id: string;
  plugin_id: string;
  unique_identifier: string | null;
  version: string | null;
  revision: number;
  status: 'installed' | 'uninstalled';
  package_key: string | null;
  sha256: string | null;
  hold?: Hold;
  lock?: Lease;
  last_deployment_id?: string;
  /** The Dify plugin daemon ran something else than this record when last compared (see runtime-drift.ts). */
  drift?: Drift & { detected_at: string; deployment_id?: string };
  /** Adopted from a Dify plugin daemon without the package in the catalog: it cannot be re-deployed from here. */
  not_in_catalog?: boolean;
  updated_at: string;
}

export type RevisionOutcome = 'pending' | 'succeeded' | 'failed' | 'restored' | 'unverified';

export interface Revision {
  tenant_id: string;
  plugin_id: string;
  revision: number;
  unique_identifier: string | null;
  previous_unique_identifier: string | null;
  version: string | null;
  /** `adopted`: recorded from what a Dify plugin daemon runs (runtime:sync, or drift with `on_drift: adopt`). */
  operation: DeploymentOperation | 'adopted';
  actor: string;
  deployment_id: string;
  /** SHA-256 of the canonical config JSON; the config itself is sealed and never returned. */
  config_digest: string | null;
  outcome: RevisionOutcome;
  created_at: string;
  finalized_at?: string;
}
