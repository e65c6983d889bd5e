/** One Powertools logger per process: structured JSON lines with the service name. */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({
  serviceName: 'pluginops',
  logLevel: (process.env.PLUGINOPS_LOG_LEVEL ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO') as 'INFO',
});
