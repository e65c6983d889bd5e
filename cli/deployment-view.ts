/**
 * Following a deployment: poll it until it is final (bounded by a deadline) and show its steps,
 * either as a live view redrawn in place (interactive terminal) or as plain append-only lines, one
 * per change (pipes, CI logs). Rendering is pure (`renderDeploymentFrame`, `PlainStepLog`), so it
 * is tested frame by frame without a terminal.
 */
import type { Deployment, DeploymentStep } from './api-types.ts';
import { FINAL_STATUSES } from './api-types.ts';
import { type ApiClient, tenantPath } from './client.ts';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

const ANSI = {
  green: (text: string) => `\x1b[32m${text}\x1b[39m`,
  red: (text: string) => `\x1b[31m${text}\x1b[39m`,
  yellow: (text: string) => `\x1b[33m${text}\x1b[39m`,
  dim: (text: string) => `\x1b[2m${text}\x1b[22m`,
  bold: (text: string) => `\x1b[1m${text}\x1b[22m`,
};
const PLAIN = { green: same, red: same, yellow: same, dim: same, bold: same };
function same(text: string): string {
  return text;
}

export interface FrameOptions {
  /** Milliseconds since the epoch; running steps show their elapsed time against it. */
  now: number;
  /** Animation counter for the spinner. */
  tick: number;
  colour: boolean;
  /** Lines are cut to this width so a wrapped line never breaks the redraw. */
  columns?: number | undefined;
}

/** `1.2s`, `340ms`, `2m05s`. */
export function formatDuration(ms: number): string {
  if (ms < 0) return '0ms';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

/** `author/name:1.2.3@0123456789ab…` — the checksum shortened for humans. */
export function shortIdentifier(uniqueIdentifier: string): string {
  return uniqueIdentifier.replace(/@([a-f0-9]{12})[a-f0-9]{52}$/, '@$1…');
}

export function describeTarget(deployment: Pick<Deployment, 'operation' | 'target'>): string {
  const { target } = deployment;
  if (target.unique_identifier !== undefined) return shortIdentifier(target.unique_identifier);
  const plugin = target.plugin_id ?? '?';
  return target.to_revision === undefined ? plugin : `${plugin} to revision ${target.to_revision}`;
}

function stepDuration(step: DeploymentStep, now: number): number {
  const end = step.ended_at === undefined ? now : Date.parse(step.ended_at);
  return end - Date.parse(step.started_at);
}

/** The live view of one deployment, as lines (no trailing newline). */
export function renderDeploymentFrame(deployment: Deployment, options: FrameOptions): string[] {
  const paint = options.colour ? ANSI : PLAIN;
  const final = FINAL_STATUSES.has(deployment.status);
  const end = final ? Date.parse(deployment.updated_at) : options.now;
  const elapsed = formatDuration(end - Date.parse(deployment.created_at));
  const lines = [
    `${paint.bold(`${deployment.operation} ${describeTarget(deployment)}`)} on ${deployment.tenant_id}`,
    `deployment ${deployment.deployment_id}  ${statusLabel(deployment.status, paint)} ${paint.dim(elapsed)}`,
  ];
  const width = Math.max(8, ...deployment.steps.map((step) => step.name.length));
  for (const step of deployment.steps) {
    const icon =
      step.status === 'succeeded'
        ? paint.green('✓')
        : step.status === 'failed'
          ? paint.red('✗')
          : paint.yellow(SPINNER[options.tick % SPINNER.length] ?? '-');
    const error =
      step.error === undefined ? '' : `  ${paint.red(`${slug(step.error.type)}: ${step.error.detail}`)}`;
    lines.push(
      `  ${icon} ${step.name.padEnd(width)}  ${paint.dim(formatDuration(stepDuration(step, options.now)))}${error}`,
    );
  }
  if (deployment.status === 'pending' && deployment.steps.length === 0) {
    lines.push(
      `  ${paint.yellow(SPINNER[options.tick % SPINNER.length] ?? '-')} waiting for the workflow to start`,
    );
  }
  if (deployment.status === 'awaiting_approval') {
    lines.push(
      `  ${paint.yellow('…')} waiting for approval: pluginops approve ${deployment.tenant_id} ${deployment.deployment_id}`,
    );
  }
  if (final && deployment.error !== undefined) {
    lines.push(
      paint.red(
        `error[${slug(deployment.error.type)}] ${deployment.error.title}: ${deployment.error.detail}`,
      ),
    );
  }
  const columns = options.columns;
  return columns === undefined || columns < 20 ? lines : lines.map((line) => truncate(line, columns - 1));
}

function statusLabel(status: string, paint: typeof ANSI): string {
  const text = status.replace('_', ' ');
  if (status === 'succeeded') return paint.green(text);
  if (status === 'failed' || status === 'rolled_back' || status === 'rejected') return paint.red(text);
  return paint.yellow(text);
}

function slug(type: string): string {
  return type.replace(/^urn:pluginops:problem:/, '');
}

/** Cuts a line to `width` visible characters, keeping ANSI sequences intact. */
export function truncate(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let index = 0; index < line.length; index += 1) {
    if (line[index] === '\x1b') {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences is the point.
      const match = /^\x1b\[[0-9;]*[A-Za-z]/.exec(line.slice(index));
      if (match !== null) {
        out += match[0];
        index += match[0].length - 1;
        continue;
      }
    }
    // Reset attributes a cut sequence may have left open.
    if (visible === width) return line.includes('\x1b') ? `${out}\x1b[0m` : out;
    out += line[index];
    visible += 1;
  }
  return out;
}

/**
 * Redraws a block of lines in place: the cursor goes back up over the previous frame, which is
 * cleared, and the new frame is written. Only for interactive terminals.
 */
export class LiveRegion {
  private height = 0;

  constructor(private readonly write: (text: string) => void) {}

  draw(lines: readonly string[]): void {
    const up = this.height > 0 ? `\x1b[${this.height}A\r` : '';
    this.write(`${up}\x1b[J${lines.join('\n')}\n`);
    this.height = lines.length;
  }
}

/**
 * Append-only progress lines for logs: one line per deployment status change and per step change.
 *
 * @example new PlainStepLog().lines(deployment) // ['status: running', 'Resolve: running', …]
 */
export class PlainStepLog {
  private status: string | undefined;
  private readonly steps = new Map<string, string>();

  lines(deployment: Deployment): string[] {
    const out: string[] = [];
    if (deployment.status !== this.status) {
      this.status = deployment.status;
      out.push(
        deployment.status === 'awaiting_approval'
          ? `status: awaiting_approval (approve with: pluginops approve ${deployment.tenant_id} ${deployment.deployment_id})`
          : `status: ${deployment.status}`,
      );
    }
    deployment.steps.forEach((step, index) => {
      const key = `${index}:${step.name}`;
      if (this.steps.get(key) === step.status) return;
      this.steps.set(key, step.status);
      const took = step.ended_at === undefined ? '' : ` (${formatDuration(stepDuration(step, 0))})`;
      const error = step.error === undefined ? '' : ` — ${slug(step.error.type)}: ${step.error.detail}`;
      out.push(`step ${step.name}: ${step.status}${took}${error}`);
    });
    // A status change that lands after the steps reads better after them.
    if (out[0]?.startsWith('status: ') && FINAL_STATUSES.has(deployment.status))
      out.push(out.shift() as string);
    return out;
  }
}

export interface WatchOptions {
  /** Overall deadline for the wait. */
  timeoutMs: number;
  intervalMs?: number;
  /** Called with every polled state (including the first). */
  onUpdate?: (deployment: Deployment) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface WatchResult {
  deployment: Deployment;
  /** True when the deadline passed before the deployment became final. */
  timedOut: boolean;
}

/**
 * The pause after poll `poll` (0-based): 100 ms, then 1.5× longer each time up to `intervalMs`
 * (100, 150, 225, 338, 506, 759, 1000…). A deployment takes well under a second when nothing
 * waits, so the early polls are close together: one ending at 0.7 s is seen at 0.8 s (doubling
 * from 200 ms saw it at 1.4 s), for two more requests in the first seconds.
 */
export function pollPauseMs(poll: number, intervalMs: number): number {
  return Math.min(intervalMs, Math.round(100 * 1.5 ** Math.min(poll, 16)));
}

/**
 * Polls `GET /v1/tenants/{t}/deployments/{id}` until the deployment is final or the deadline
 * passes. Waits between polls start short and grow to `intervalMs`, so fast deployments return
 * fast without hammering the API on slow ones. `awaiting_approval` is not final: the wait goes on.
 */
export async function waitForDeployment(
  client: ApiClient,
  tenantId: string,
  deploymentId: string,
  options: WatchOptions,
): Promise<WatchResult> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = now() + options.timeoutMs;
  const interval = options.intervalMs ?? 1000;
  const path = `${tenantPath(tenantId)}/deployments/${encodeURIComponent(deploymentId)}`;
  for (let poll = 0; ; poll += 1) {
    const remaining = deadline - now();
    const { body } = await client.get<Deployment>(path, {
      timeoutMs: Math.max(1000, Math.min(client.connection.requestTimeoutMs, remaining)),
    });
    options.onUpdate?.(body);
    if (FINAL_STATUSES.has(body.status)) return { deployment: body, timedOut: false };
    if (now() >= deadline) return { deployment: body, timedOut: true };
    await sleep(Math.min(pollPauseMs(poll, interval), Math.max(0, deadline - now())));
  }
}
