/**
 * How the local engine calls task handlers so that a Task state sees what it would see on AWS:
 * the handler's result after a JSON round trip, a thrown error's `name` as the ASL error name
 * (Lambda's `errorType`) with `{"errorType","errorMessage"}` as the cause, `lambda:invoke`
 * results wrapped in `{ Payload, StatusCode, … }`, and Lambda's own error names when a handler
 * module is missing or exports no `handler`.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context as LambdaContext } from 'aws-lambda';
import type { LocalNaming } from './workflow-definitions.ts';

/** The shape of `functions/tasks/<task>.ts` `handler`; the context is a local stand-in for Lambda's. */
export type TaskHandler = (input: unknown, context: LambdaContext) => unknown;

/** The task timeout CDK gives task functions (infra/constructs/workflows.ts). */
const TASK_FUNCTION_TIMEOUT_MS = 5 * 60_000;

/**
 * A failed Task state. The engine matches `Retry`/`Catch` on `name` and reports `message` as the
 * cause, so the ES `cause` is left unset (the engine would print it instead).
 */
export class TaskFailure extends Error {
  /** What was thrown, for debugging; not part of the ASL error. */
  readonly original: unknown;

  constructor(error: string, cause: string, original?: unknown) {
    super(cause);
    this.name = error;
    this.original = original;
  }
}

/**
 * Stops a state of an aborted execution from doing anything more: neither Retry nor Catch may
 * match it (the engine reads these two flags), so the run ends where the "crash" happened.
 */
export class ExecutionStoppedSignal extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;

  constructor() {
    super('The execution was aborted.');
    this.name = 'States.Aborted';
  }
}

/** A thrown value as the Task error Step Functions reports for a failed Lambda invocation. */
export function lambdaFailure(error: unknown): Error {
  if (error instanceof TaskFailure || error instanceof ExecutionStoppedSignal) return error;
  const errorType = error instanceof Error ? error.name : 'Error';
  const errorMessage = error instanceof Error ? error.message : String(error);
  return new TaskFailure(errorType, JSON.stringify({ errorType, errorMessage }), error);
}

export function lambdaContext(naming: LocalNaming, task: string): LambdaContext {
  const deadline = Date.now() + TASK_FUNCTION_TIMEOUT_MS;
  const functionName = naming.functionName(task);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: naming.functionArn(task),
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The default resolver: `handler` of `<tasksDir>/<task>.ts`, imported on first use. */
export async function importTaskHandler(tasksDir: string, task: string): Promise<TaskHandler> {
  const file = join(tasksDir, `${task}.ts`);
  let module: { handler?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { handler?: unknown };
  } catch (error) {
    throw new TaskFailure(
      'Runtime.ImportModuleError',
      `${file}: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
  if (typeof module.handler !== 'function') {
    throw new TaskFailure('Runtime.HandlerNotFound', `${file} does not export a handler function.`);
  }
  return module.handler as TaskHandler;
}

/** What `arn:aws:states:::lambda:invoke` returns around the function's result. */
export function lambdaInvokeResult(payload: unknown): Record<string, unknown> {
  const requestId = randomUUID();
  return {
    ExecutedVersion: '$LATEST',
    Payload: payload,
    SdkHttpMetadata: { HttpHeaders: { 'x-amzn-RequestId': requestId }, HttpStatusCode: 200 },
    SdkResponseMetadata: { RequestId: requestId },
    StatusCode: 200,
  };
}

/** One `events:putEvents` entry, with `Detail` parsed. */
export interface PutEventsEntry {
  source: string;
  detailType: string;
  detail: Record<string, unknown>;
  eventBusName: string | undefined;
}

export function putEventsEntries(parameters: unknown): PutEventsEntry[] {
  const entries = (parameters as { Entries?: unknown } | null)?.Entries;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new TaskFailure(
      'EventBridge.ValidationException',
      'events:putEvents needs a non-empty Entries array.',
    );
  }
  return entries.map((entry: Record<string, unknown>) => {
    const detail = typeof entry.Detail === 'string' ? JSON.parse(entry.Detail) : (entry.Detail ?? {});
    return {
      source: String(entry.Source ?? ''),
      detailType: String(entry.DetailType ?? ''),
      detail: detail as Record<string, unknown>,
      eventBusName: typeof entry.EventBusName === 'string' ? entry.EventBusName : undefined,
    };
  });
}

/** A value as it crosses a Lambda or Step Functions boundary: JSON, `undefined` → `null`. */
export function jsonCopy<T = unknown>(value: unknown): T {
  return JSON.parse(JSON.stringify(value ?? null)) as T;
}
