/**
 * The record a sweep keeps per tenant and run (`GET /v1/tenants/{t}/auto-upgrade/runs`): what was
 * checked, upgraded, skipped (with the reason) and what failed.
 */
import { z } from 'zod';
import type { AutoUpgradePlan } from './plan.ts';
import { SKIP_REASONS } from './plan.ts';

export const UpgradeRunSummarySchema = z.object({
  /** When the sweep evaluated the tenant (RFC 3339 UTC). */
  run_at: z.string(),
  /** Start of the sweep window that found the tenant due (RFC 3339 UTC). */
  window_start: z.string().optional(),
  /** Installed plugins looked at. */
  checked: z.int().min(0),
  upgraded: z.array(
    z.object({
      plugin_id: z.string(),
      from: z.string(),
      to: z.string(),
      deployment_id: z.string().optional(),
    }),
  ),
  skipped: z.array(
    z.object({
      plugin_id: z.string(),
      reason: z.enum(SKIP_REASONS),
      candidate: z.string().optional(),
      /** Why, in a sentence (e.g. which deployment holds a `busy` plugin). */
      detail: z.string().optional(),
    }),
  ),
  failed: z.array(
    z.object({
      plugin_id: z.string(),
      from: z.string(),
      to: z.string(),
      deployment_id: z.string().optional(),
      /** Failed attempts of this target so far, this one included. */
      attempts: z.int().min(1).optional(),
      problem: z.object({ type: z.string(), detail: z.string() }).loose().optional(),
    }),
  ),
  /** Set when the tenant could not be evaluated at all (its schedule still advances). */
  error: z.object({ type: z.string(), detail: z.string() }).loose().optional(),
});
export type UpgradeRunSummary = z.infer<typeof UpgradeRunSummarySchema>;

/**
 * A summary for a plan before its deployments report back: everything planned counts as upgraded
 * (the sweep moves entries to `failed` when their deployment fails).
 */
export function summarizePlan(plan: AutoUpgradePlan, runAt: Date, windowStart?: Date): UpgradeRunSummary {
  return {
    run_at: runAt.toISOString(),
    ...(windowStart === undefined ? {} : { window_start: windowStart.toISOString() }),
    checked: plan.upgrade.length + plan.skipped.length,
    upgraded: plan.upgrade.map(({ plugin_id, from, to }) => ({ plugin_id, from, to })),
    skipped: plan.skipped.map((entry) => ({ ...entry })),
    failed: [],
  };
}
