/**
 * Fault injection for crash-consistency tests: the local engine consults these before and after
 * it runs a Task state's handler, so task code stays unaware of them.
 *
 * - `throw` fails that Task with `errorName`, as if the Lambda had thrown (Retry/Catch apply).
 *   `before`: the handler never runs. `after`: the handler ran (its writes happened), then the
 *   invocation failed, like a Lambda timing out after committing.
 * - `abort` stops the whole execution at that point, as a process crash would: no Retry, no Catch,
 *   status ABORTED. `after`: the handler's writes happened, the state never completed.
 *
 * For a `.waitForTaskToken` state, `after` means after the callback arrived.
 */

export interface FaultSpec {
  machine: string;
  /** Task state name (nested states inside Map/Parallel included). */
  state: string;
  when: 'before' | 'after';
  mode: 'throw' | 'abort';
  /** ASL error name for `throw` (default `InjectedFault`). */
  errorName?: string;
  /** Cause text for `throw`. */
  cause?: string;
  /** How many matching invocations it hits (default 1; `Infinity` for all). */
  times?: number;
  /** Only this execution (name or ARN); default any. */
  execution?: string;
}

export interface InjectedFault {
  readonly spec: Readonly<FaultSpec>;
  /** How often it has hit so far. */
  readonly fired: number;
  /** Hits left before it disarms itself. */
  readonly remaining: number;
  remove(): void;
}

export const DEFAULT_FAULT_ERROR = 'InjectedFault';

class ArmedFault implements InjectedFault {
  fired = 0;
  remaining: number;

  constructor(
    readonly spec: Readonly<FaultSpec>,
    private readonly plan: FaultPlan,
  ) {
    this.remaining = spec.times ?? 1;
  }

  remove(): void {
    this.plan.remove(this);
  }
}

export class FaultPlan {
  private readonly faults: ArmedFault[] = [];

  add(spec: FaultSpec): InjectedFault {
    const times = spec.times ?? 1;
    if (!(times > 0)) throw new RangeError(`fault times must be > 0 (got ${times})`);
    const fault = new ArmedFault({ ...spec }, this);
    this.faults.push(fault);
    return fault;
  }

  /** The first armed fault for this point of this run, counted as fired. */
  take(point: {
    machine: string;
    state: string;
    when: 'before' | 'after';
    execution: string;
    executionArn: string;
  }): FaultSpec | undefined {
    const fault = this.faults.find(
      ({ spec }) =>
        spec.machine === point.machine &&
        spec.state === point.state &&
        spec.when === point.when &&
        (spec.execution === undefined ||
          spec.execution === point.execution ||
          spec.execution === point.executionArn),
    );
    if (fault === undefined) return undefined;
    fault.fired += 1;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.remove(fault);
    return fault.spec;
  }

  remove(fault: InjectedFault): void {
    const index = this.faults.indexOf(fault as ArmedFault);
    if (index >= 0) this.faults.splice(index, 1);
  }

  clear(): void {
    this.faults.length = 0;
  }
}
