/** Deploy workflow task `Snapshot`: copies the current installation and its sealed config to backups/<tenant>/<deployment>.json. */
import { deployStepHandler } from '#services/deploy-ports.ts';

export const handler = deployStepHandler('Snapshot', (steps) => steps.snapshot);
