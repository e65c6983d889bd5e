/**
 * Faults the local plugin host can be told to inject, so deploy rollback is exercised against a
 * real HTTP host: set at start with `PLUGINOPS_HOST_FAULTS` (a JSON array) or at runtime through
 * `POST /admin/faults`.
 *
 * A fault matches a probe when every selector it sets (`tenant_id`, `plugin_id`,
 * `unique_identifier` — the identifier the desired state asks for) equals the probe's; a fault
 * without selectors matches every probe. The most recently added matching fault wins.
 */
import { z } from 'zod';
import { formatIssuePath } from '#core/errors.ts';
import { LocalStackError } from './errors.ts';

export const FAULT_MODES = ['fail', 'timeout', 'stale'] as const;

/**
 * - `fail`: the host reports the desired identifier with status `failed`.
 * - `timeout`: the host never answers; the client gives up.
 * - `stale`: the host keeps reporting the identifier it ran before (404 if it ran nothing).
 */
export type FaultMode = (typeof FAULT_MODES)[number];

const faultSchema = z.strictObject({
  tenant_id: z.string().min(1).optional(),
  plugin_id: z.string().min(1).optional(),
  unique_identifier: z.string().min(1).optional(),
  mode: z.enum(FAULT_MODES),
});

export type HostFault = z.infer<typeof faultSchema>;

export interface ProbeSubject {
  tenantId: string;
  pluginId: string;
  /** What the desired state asks for; undefined when the plugin is not desired. */
  uniqueIdentifier: string | undefined;
}

/** Bad fault input; the admin endpoint answers 400 with the message. */
export class FaultInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultInputError';
  }
}

export function parseFault(value: unknown): HostFault {
  const parsed = faultSchema.safeParse(value);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`);
    throw new FaultInputError(`invalid fault (${reasons.join('; ')})`);
  }
  return parsed.data;
}

/** Reads `PLUGINOPS_HOST_FAULTS`; a malformed value stops the stack at startup. */
export function parseFaultsSetting(text: string | undefined, name = 'PLUGINOPS_HOST_FAULTS'): HostFault[] {
  if (text === undefined || text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new LocalStackError(`${name} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(value)) throw new LocalStackError(`${name} must be a JSON array of faults`);
  try {
    return value.map(parseFault);
  } catch (error) {
    throw new LocalStackError(`${name}: ${(error as Error).message}`, { cause: error });
  }
}

export function matchFault(faults: ReadonlyArray<HostFault>, subject: ProbeSubject): HostFault | undefined {
  return faults.findLast(
    (fault) =>
      (fault.tenant_id === undefined || fault.tenant_id === subject.tenantId) &&
      (fault.plugin_id === undefined || fault.plugin_id === subject.pluginId) &&
      (fault.unique_identifier === undefined || fault.unique_identifier === subject.uniqueIdentifier),
  );
}
