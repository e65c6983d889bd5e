/** Sweep task `FindDueTenants`: the window elapsed at `at` and the tenants due in it (slot query, no scan). */
import { findDueTenants, sweepTask } from '#services/sweep.ts';
import { sweepPorts } from '#services/sweep-ports.ts';

export const handler = sweepTask(findDueTenants, sweepPorts);
