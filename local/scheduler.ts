/**
 * The local stand-in for the EventBridge rule `rate(15 minutes)` (infra/constructs/schedule.ts):
 * croner fires at every UTC quarter-hour and starts the same `sweep` state machine, through the
 * workflow port, with the window's deterministic execution name — a second tick for the same
 * window (a restart right at :00) is the same execution and changes nothing twice.
 *
 * `local/stack.ts` starts it unless `PLUGINOPS_SCHEDULER=off` (the default under Vitest, so
 * tests sweep only when they call `POST /v1/sweeps`).
 */
import { Cron } from 'croner';
import { startSweep } from '#services/sweep-run.ts';

export const SWEEP_CRON = '*/15 * * * *';

export interface LocalScheduler {
  /** Next tick (UTC), for the startup log. */
  nextRun(): Date | null;
  stop(): Promise<void>;
}

export interface LocalSchedulerOptions {
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Replaces `startSweep` (tests). */
  start?: (at: Date) => Promise<{ name: string; alreadyStarted: boolean }>;
  /**
   * The recovery pass (functions/services/deploy-recovery.ts): run once at start-up and every
   * minute, the local stand-in for the 5-minute EventBridge rule.
   */
  recover?: () => Promise<{ settled: unknown[] }>;
}

/** Every minute: the recovery pass. */
export const RECOVERY_CRON = '* * * * *';

/** Whether the local stack should run the scheduler: `PLUGINOPS_SCHEDULER` on/off, off under Vitest by default. */
export function schedulerEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const setting = env.PLUGINOPS_SCHEDULER ?? (env.VITEST === undefined ? 'on' : 'off');
  return setting !== 'off' && setting !== 'false' && setting !== '0';
}

export function startLocalScheduler(options: LocalSchedulerOptions = {}): LocalScheduler {
  const start = options.start ?? ((at: Date) => startSweep(at));
  const job = new Cron(SWEEP_CRON, { timezone: 'UTC', protect: true }, async () => {
    const at = new Date();
    try {
      const started = await start(at);
      options.log?.('info', 'sweep started by the local scheduler', {
        execution: started.name,
        duplicate: started.alreadyStarted,
      });
    } catch (error) {
      options.log?.('error', 'the local scheduler could not start the sweep', {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  });
  const recover = options.recover;
  let stopped = false;
  // The pass in flight, so that stop() waits for it instead of leaving it to fail against engines
  // that are shutting down.
  let inFlight: Promise<void> = Promise.resolve();
  const runRecovery = () => {
    if (recover === undefined || stopped) return inFlight;
    inFlight = inFlight.then(recoverOnce);
    return inFlight;
  };
  const recoverOnce = async () => {
    if (recover === undefined || stopped) return;
    try {
      const summary = await recover();
      if (summary.settled.length > 0) {
        options.log?.('warn', 'recovery pass settled interrupted deployments', { settled: summary.settled });
      }
    } catch (error) {
      options.log?.('error', 'the recovery pass failed', {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  };
  const recovery =
    recover === undefined
      ? undefined
      : new Cron(RECOVERY_CRON, { timezone: 'UTC', protect: true }, runRecovery);
  void runRecovery();
  return {
    nextRun: () => job.nextRun(),
    async stop() {
      stopped = true;
      job.stop();
      recovery?.stop();
      await inFlight;
    },
  };
}
