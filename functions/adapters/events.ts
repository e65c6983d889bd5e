/**
 * Domain events (`source: pluginops`). On AWS they go to the stage's EventBridge bus
 * (`PLUGINOPS_EVENT_BUS`); locally they are written as JSON lines to `PLUGINOPS_EVENTS_FILE`
 * (and the log), so tests and users can read them. Details never carry secrets.
 */
import { appendFile } from 'node:fs/promises';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { logger } from '#shared/logger.ts';

export type EventType =
  | 'Package Published'
  | 'Deployment Started'
  | 'Deployment Succeeded'
  | 'Deployment Failed'
  | 'Deployment Rolled Back'
  | 'Approval Requested'
  | 'Installation Changed'
  | 'Auto-upgrade Alert'
  | 'Runtime Drift Detected';

let client: EventBridgeClient | undefined;

export async function publishEvent(
  detailType: EventType,
  detail: Record<string, unknown>,
  now = new Date(),
): Promise<void> {
  const bus = process.env.PLUGINOPS_EVENT_BUS;
  const file = process.env.PLUGINOPS_EVENTS_FILE;
  logger.info('event', { event: detailType, detail });
  if (bus) {
    client ??= new EventBridgeClient({});
    await client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: bus,
            Source: 'pluginops',
            DetailType: detailType,
            Detail: JSON.stringify(detail),
            Time: now,
          },
        ],
      }),
    );
  }
  if (file) {
    const line = JSON.stringify({
      source: 'pluginops',
      'detail-type': detailType,
      time: now.toISOString(),
      detail,
    });
    await appendFile(file, `${line}\n`);
  }
}
