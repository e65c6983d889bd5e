/**
 * The response shapes the CLI reads (a subset of functions/api/schemas.ts; unknown fields are kept
 * and passed through to `--json`).
 */
import type { Problem } from '#core/errors.ts';

export type DeploymentStatus =
  | 'pending'
  | 'running'
  | 'awaiting_approval'
  | 'succeeded'
  | 'failed'
  | 'rolled_back'
  | 'rejected';

export const FINAL_STATUSES: ReadonlySet<string> = new Set([
  'succeeded',
  'failed',
  'rolled_back',
  'rejected',
]);
/** Final statuses a pipeline must treat as failure (exit 5). */
export const FAILED_STATUSES: ReadonlySet<string> = new Set(['failed', 'rolled_back', 'rejected']);

export interface DeploymentStep {
  name: string;
  status: 'running' | 'succeeded' | 'failed';
  started_at: string;
  ended_at?: string;
  error?: Problem;
}

export interface PlanStep {
  plugin_id: string;
  action: string;
  from: { unique_identifier: string | null; version: string | null; revision: number };
  to: { unique_identifier: string | null; version: string | null };
  restore_revision?: number;
}

export interface Deployment {
  deployment_id: string;
  tenant_id: string;
  operation: string;
  actor?: string;
  target: { unique_identifier?: string; plugin_id?: string; to_revision?: number };
  status: DeploymentStatus;
  steps: DeploymentStep[];
  plan?: { steps: PlanStep[]; order: string[] };
  error?: Problem;
  approval?: { decision: string; by?: string; comment?: string; at: string };
  created_at: string;
  updated_at: string;
  [field: string]: unknown;
}

export interface Installation {
  plugin_id: string;
  unique_identifier: string | null;
  version: string | null;
  revision: number;
  status: 'installed' | 'uninstalled';
  hold?: { unique_identifier: string; reason: string; set_at: string; deployment_id?: string };
  deployment_id?: string;
  updated_at: string;
}

export interface Revision {
  revision: number;
  plugin_id: string;
  unique_identifier: string | null;
  previous_unique_identifier: string | null;
  version: string | null;
  operation: string;
  actor: string;
  deployment_id: string;
  outcome: string;
  created_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface PackageRecord {
  unique_identifier: string;
  plugin_id: string;
  version: string;
  checksum: string;
  sha256?: string;
  size: number;
  manifest: Record<string, unknown> & { resource?: { permission?: unknown }; dependencies?: unknown[] };
  signature: { status: 'verified' | 'unsigned' | 'invalid'; key_id?: string; authorized_category?: string };
  source: { type: string; [field: string]: unknown };
  dependencies: unknown[];
  published_at: string;
  /** Who catalogued the build (docs/security.md); absent on older records. */
  publisher?: {
    kind: 'operator' | 'tenant';
    tenant_id: string | null;
    key_id: string | null;
    source: string;
  };
  promoted?: { key_id: string; promoted_at: string };
}

export interface TenantPolicy {
  require_signature: boolean;
  trusted_signers: string[];
  allowed_sources: string[];
  install_scope: string;
  permission_ceiling: Record<string, unknown>;
  platform_version: string;
  approval_required: boolean;
}

export interface AutoUpgradeSettings {
  strategy_setting: 'disabled' | 'fix_only' | 'latest';
  upgrade_time_of_day: number;
  timezone: string;
  upgrade_mode: 'all' | 'partial' | 'exclude';
  include_plugins: string[];
  exclude_plugins: string[];
  allow_prerelease: boolean;
  next_run_at?: string | null;
  is_default?: boolean;
  updated_at?: string | null;
  warnings?: Array<{ path: string; message: string }>;
}
