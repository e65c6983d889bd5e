/** One Powertools logger per process: structured JSON lines with the service name. */
import { Logger } from '@aws-lambda-powertools/logger';
import { getConfig } from '#config/runtime-config.ts';

export const logger = new Logger({
  serviceName: 'pluginops',
  logLevel: getConfig().logLevel as 'INFO',
});
