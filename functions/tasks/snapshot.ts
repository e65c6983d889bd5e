/** Deploy workflow task `Snapshot`: copies the current installation and its sealed config to backups/<tenant>/<deployment>.json. */
import { deployTask } from '#services/deploy-task.ts';
import { snapshotStep } from '#services/deploy-workflow.ts';

export const handler = deployTask('Snapshot', snapshotStep);
