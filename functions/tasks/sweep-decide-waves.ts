/** Sweep task `DecideWaves`: canary waves and rollout halts across the due tenants of this sweep. */
import { type DueTenants, decideWaves, sweepTask, type TenantPlan } from '#services/sweep.ts';
import { sweepPorts } from '#services/sweep-ports.ts';

type Input = Omit<DueTenants, 'tenants'> & { plans: TenantPlan[] };

export const handler = sweepTask(
  async (input: Input, ports) => ({ ...input, ...(await decideWaves(input, ports)) }),
  sweepPorts,
);
