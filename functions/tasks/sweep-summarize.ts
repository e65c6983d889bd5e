/** Sweep task `Summarize`: the sweep's summary, stored and returned as the execution output. */
import { summarizeSweep, sweepTask } from '#services/sweep.ts';
import { sweepPorts } from '#services/sweep-ports.ts';

export const handler = sweepTask(summarizeSweep, sweepPorts);
