/**
 * Canary rollout of one version across tenants: a small first wave, then the rest unless the first
 * wave fails too often. The policy carries `canary: { percent, failure_threshold }` (both 0–100).
 */
import { createHash } from 'node:crypto';

export interface CanaryWaves {
  /** Tenants that get the version first. */
  first: string[];
  /** Everyone else, after the first wave succeeded. */
  rest: string[];
}

/** Outcome counts of a wave so far. */
export interface WaveOutcome {
  attempted: number;
  failed: number;
}

function rank(tenantId: string, version: string): string {
  return createHash('sha256').update(`${version}\u0000${tenantId}`, 'utf8').digest('hex');
}

/**
 * Splits tenants into a canary first wave and the rest. Tenants are ordered by
 * `sha256(version + NUL + tenant_id)` and the first `ceil(n × percent / 100)` (at least one when
 * `percent > 0` and there are tenants) form the first wave. The choice depends only on the set of
 * tenants and the version — not on input order or on when it runs — so every sweep recomputes the
 * same wave, and a different version picks a different, independent sample (no tenant is always
 * the guinea pig). `version` may be a version or a unique identifier; use the same one every run.
 *
 * @example canaryWave(['a', 'b', …200 ids], { percent: 5 }, '1.2.4').first.length === 10
 */
export function canaryWave(
  tenantIds: readonly string[],
  canary: { percent: number },
  version: string,
): CanaryWaves {
  const unique = [...new Set(tenantIds)];
  const ordered = unique
    .map((tenantId) => ({ tenantId, key: rank(tenantId, version) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((entry) => entry.tenantId);
  const percent = Math.min(100, Math.max(0, canary.percent));
  const share = Math.ceil((ordered.length * percent) / 100);
  const size = percent > 0 ? Math.max(1, share) : 0;
  return { first: ordered.slice(0, size), rest: ordered.slice(size) };
}

/**
 * True when the rollout of a version must stop: the failure rate of the wave, in percent, exceeds
 * `failureThreshold` (so `0` halts on the first failure and `100` never halts). Nothing attempted
 * never halts.
 *
 * @example shouldHalt({ attempted: 10, failed: 2 }, 10) === true // 20 % > 10 %
 */
export function shouldHalt(outcome: WaveOutcome, failureThreshold: number): boolean {
  if (outcome.attempted <= 0 || outcome.failed <= 0) return false;
  return (outcome.failed / outcome.attempted) * 100 > failureThreshold;
}
