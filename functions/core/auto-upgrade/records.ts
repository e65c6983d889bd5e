/**
 * The records of the auto-upgrade sweep as the domain sees them: canary rollouts of one build,
 * the tenants a sweep window finds, and the sweep's own per-run summary. Stored by
 * `#adapters/dynamo/sweep-store.ts` and `#adapters/dynamo/auto-upgrade.ts`.
 */
import type { AutoUpgradeSettings } from './settings.ts';

export type RolloutStatus = 'wave' | 'open' | 'halted';

/**
 * A canary rollout of one build (`unique_identifier`). `wave`: the first wave is upgrading and
 * everyone else on a canary policy waits; `open`: the wave passed (or an operator resumed a halt),
 * everyone may upgrade; `halted`: the wave failed too often, nobody gets the build.
 */
export interface Rollout {
  unique_identifier: string;
  plugin_id: string;
  version: string;
  status: RolloutStatus;
  percent: number;
  failure_threshold: number;
  /** Tenants of the first wave, and the deployment each one got (once started). */
  wave_tenants: string[];
  wave_deployments: Record<string, string>;
  created_at: string;
  /** The wave's outcome once all its deployments finished. */
  wave_result?: { attempted: number; failed: number };
  halt?: { at: string; by: string; reason: string };
  resumed?: { at: string; by: string };
}

/** A tenant found in a slot partition, as the sweep needs it. */
export interface SlotEntry {
  tenant_id: string;
  settings: AutoUpgradeSettings;
  next_run_at: Date | undefined;
  revision: number;
}

/** The sweep's own record: what one run over one window did. */
export interface SweepSummary {
  /** The instant the sweep ran "as if" (RFC 3339). */
  run_at: string;
  window: { start: string; end: string; slot: number };
  /** Tenants indexed under the window's slot. */
  checked: number;
  /** Of those, due now. */
  due: number;
  /** Deployments started. */
  upgraded: number;
  /** Plugins left alone, and why. */
  skipped: number;
  skipped_by_reason: Record<string, number>;
  /** Deployments that could not start, failed attempts reported, tenants that could not be evaluated. */
  failed: number;
  /** Builds whose rollout this sweep halted. */
  halted: number;
  halted_builds: string[];
  /** Wall-clock start and end of the execution. */
  started_at: string;
  finished_at: string;
}
