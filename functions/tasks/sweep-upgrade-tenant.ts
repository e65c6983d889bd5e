/** Sweep task `UpgradeTenant` (Map iteration): start the deployments, record the run, re-index the tenant. */
import { sweepTask, upgradeTenant } from '#services/sweep.ts';
import { sweepPorts } from '#services/sweep-ports.ts';

export const handler = sweepTask(upgradeTenant, sweepPorts);
