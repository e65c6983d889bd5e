/** Deploy workflow task `Rollback`: restores the previous identifier and config as a new revision, re-probes, holds the failed identifier. */
import { deployStepHandler } from '#services/deploy-ports.ts';

export const handler = deployStepHandler('Rollback', (steps) => steps.rollback);
