/**
 * Domain events (`source: pluginops`) as data. Every event carries an `event_id` that is fixed when
 * the event is written to the outbox, so delivery can repeat (at-least-once) and consumers drop
 * the copies they have already seen.
 */

export const EVENT_TYPES = [
  'Package Published',
  'Deployment Started',
  'Deployment Succeeded',
  'Deployment Failed',
  'Deployment Rolled Back',
  'Approval Requested',
  'Installation Changed',
  'Auto-upgrade Alert',
  'Runtime Drift Detected',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface DomainEvent {
  /** Stable across redeliveries: consumers dedupe on it. */
  event_id: string;
  detail_type: EventType;
  /** ISO 8601. */
  time: string;
  /** Never carries secrets. */
  detail: Record<string, unknown>;
}

/**
 * An event whose id names what happened, so that writing "the same" event twice (a retried step)
 * yields the same id. `key` must be unique per event of that type within the deployment or
 * subject: e.g. `<deployment>` for a status change, `<deployment>/<plugin>/<revision>` for an
 * installation change.
 *
 * @example domainEvent('Deployment Succeeded', '01J…', { … }, now).event_id // 'Deployment Succeeded/01J…'
 */
export function domainEvent(
  detailType: EventType,
  key: string,
  detail: Record<string, unknown>,
  now: Date,
): DomainEvent {
  return {
    event_id: `${detailType.toLowerCase().replaceAll(' ', '-')}/${key}`,
    detail_type: detailType,
    time: now.toISOString(),
    detail,
  };
}

/** The detail as delivered: the id travels inside, where EventBridge rules and consumers see it. */
export function deliveredDetail(event: DomainEvent): Record<string, unknown> {
  return { ...event.detail, event_id: event.event_id };
}

/**
 * Drops the copies of events already seen, keeping first occurrences in order: what a consumer of
 * an at-least-once stream does.
 */
export function dedupeEvents<T extends { event_id: string }>(events: readonly T[]): T[] {
  const seen = new Set<string>();
  return events.filter((event) => {
    if (seen.has(event.event_id)) return false;
    seen.add(event.event_id);
    return true;
  });
}
