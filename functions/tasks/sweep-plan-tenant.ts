/** Sweep task `PlanTenant` (Map iteration): what auto-upgrade would change on one tenant; reads only. */
import { planTenant, sweepTask } from '#services/sweep.ts';
import { sweepPorts } from '#services/sweep-ports.ts';

export const handler = sweepTask(planTenant, sweepPorts);
