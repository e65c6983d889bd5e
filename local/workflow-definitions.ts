/**
 * Loads `statemachines/*.asl.json` for the local engine exactly as CDK deploys them: the same
 * `${...}` substitutions (infra/constructs/workflows.ts), filled with local names, then validated
 * (asl-validator, through aws-local-stepfunctions) and bound to local task dispatch.
 *
 * Every Task state gets a {@link TaskBinding} saying how the engine runs it: a task function
 * (`${<Task>FunctionArn}` or `arn:aws:states:::lambda:invoke[.waitForTaskToken]`), a nested
 * `states:startExecution`, or `events:putEvents`. Any other resource fails the load, so a
 * definition the local engine cannot run is found at startup and not halfway through a deploy.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { REPO_ROOT } from './console-paths.ts';
import { LocalStackError } from './errors.ts';

/** A definition that cannot run locally; the message names the file and the state. */
export class WorkflowDefinitionError extends LocalStackError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkflowDefinitionError';
  }
}

/** AWS's default Task timeout (99999999 s) overflows a Node timer; this is the longest that does not (~23 days). */
export const UNBOUNDED_TASK_TIMEOUT_SECONDS = 2_000_000;

/**
 * aws-local-stepfunctions resolves `TimeoutSecondsPath` against the state's Parameters output,
 * Step Functions against the state input. The runnable definition therefore copies the value
 * into Parameters under this field, points `TimeoutSecondsPath` at it, and task dispatch strips
 * it again ({@link takeResolvedTimeout}).
 */
export const RESOLVED_TIMEOUT_FIELD = 'pluginops_local_timeout_seconds';

/** Same rule as infra/constructs/workflows.ts (not imported: that module loads aws-cdk-lib). */
export function pascalToKebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** `${Name}` placeholders of an ASL document, as infra/constructs/workflows.ts finds them. */
export function placeholdersOf(asl: string): string[] {
  return [...new Set([...asl.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((match) => match[1] as string))].sort();
}

const FUNCTION_PLACEHOLDER = /^([A-Z][A-Za-z0-9]*)FunctionArn$/;
const STATE_MACHINE_PLACEHOLDER = /^([A-Z][A-Za-z0-9]*)StateMachineArn$/;
const LAMBDA_FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[^:]+:[^:]+:function:([^:]+)(?::[^:]+)?$/;
const PARTIAL_FUNCTION_ARN = /^[^:]+:function:([^:]+)(?::[^:]+)?$/;

/** Local names and ARNs, shaped like the ones CDK gives each stage. */
export class LocalNaming {
  constructor(
    readonly stage: string,
    readonly region: string,
    readonly account: string,
  ) {}

  /** CDK's `PluginopsFunction` name for `functions/tasks/<task>.ts`: `<prefix>-task-<task>`. */
  functionName(task: string): string {
    return `pluginops-${this.stage}-task-${task}`;
  }

  functionArn(task: string): string {
    return `arn:aws:lambda:${this.region}:${this.account}:function:${this.functionName(task)}`;
  }

  stateMachineArn(machine: string): string {
    return `arn:aws:states:${this.region}:${this.account}:stateMachine:pluginops-${this.stage}-${machine}`;
  }

  executionArn(machine: string, execution: string): string {
    return `arn:aws:states:${this.region}:${this.account}:execution:pluginops-${this.stage}-${machine}:${execution}`;
  }

  /** The machine a state machine ARN (or bare `pluginops-<stage>-<machine>` name) points at. */
  machineOf(stateMachineArnOrName: string): string | undefined {
    const name = stateMachineArnOrName.split(':').at(-1) ?? '';
    const prefix = `pluginops-${this.stage}-`;
    return name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
  }

  /** The task behind a function name, partial ARN or ARN (a version/alias qualifier is ignored). */
  taskOf(functionNameOrArn: string): string | undefined {
    const name =
      LAMBDA_FUNCTION_ARN.exec(functionNameOrArn)?.[1] ??
      PARTIAL_FUNCTION_ARN.exec(functionNameOrArn)?.[1] ??
      functionNameOrArn;
    const prefix = `pluginops-${this.stage}-task-`;
    return name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
  }

  get eventBusName(): string {
    return `pluginops-${this.stage}`;
  }

  get eventBusArn(): string {
    return `arn:aws:events:${this.region}:${this.account}:event-bus/${this.eventBusName}`;
  }
}

interface TaskTimeout {
  /** From `TimeoutSeconds`, scaled; undefined when absent. */
  timeoutMs: number | undefined;
  /** The state has `TimeoutSecondsPath`, resolved into its Parameters (see {@link RESOLVED_TIMEOUT_FIELD}). */
  timeoutFromInput: boolean;
}

export type TaskBinding = TaskTimeout &
  /** Resource is a task function ARN: the handler's result is the state result. */
  (
    | { kind: 'function'; state: string; task: string }
    /**
     * `lambda:invoke` (result wrapped as `{ Payload, StatusCode, … }` like AWS) or
     * `lambda:invoke.waitForTaskToken` (result is the callback's output). The function is read
     * from `Parameters.FunctionName` at run time.
     */
    | { kind: 'lambda-invoke'; state: string; waitForTaskToken: boolean }
    | { kind: 'start-execution'; state: string; mode: 'async' | 'sync' | 'sync:2' }
    | { kind: 'put-events'; state: string }
  );

/**
 * The input a task sees and its timeout: for a `TimeoutSecondsPath` state, the resolved value
 * (whole seconds, not scaled: the engine takes integers only there) is taken out of the input.
 */
export function takeResolvedTimeout(
  binding: TaskBinding,
  input: unknown,
): { input: unknown; timeoutMs: number | undefined } {
  if (!binding.timeoutFromInput || input === null || typeof input !== 'object') {
    return { input, timeoutMs: binding.timeoutMs };
  }
  const { [RESOLVED_TIMEOUT_FIELD]: seconds, ...rest } = input as Record<string, unknown>;
  return { input: rest, timeoutMs: typeof seconds === 'number' ? seconds * 1000 : undefined };
}

export interface LoadedStateMachine {
  /** `deploy` for `deploy.asl.json`. */
  name: string;
  path: string;
  arn: string;
  /** After substitution, as validated. */
  definition: StateMachineDefinition;
  /** What runs: waits scaled by `timeScale`, timeouts by `timeoutScale`. */
  runnable: StateMachine;
  /** By state name (names are unique across a machine, nested states included). */
  tasks: Map<string, TaskBinding>;
  /** Every state name, nested ones included (fault injection checks against it). */
  states: Set<string>;
}

export interface LoadOptions {
  dir: string;
  naming: LocalNaming;
  tableName: string;
  bucketName: string;
  /** Multiplies Retry intervals (`IntervalSeconds`, `MaxDelaySeconds`) and Wait `Seconds`. */
  timeScale: number;
  /** Multiplies Task and execution `TimeoutSeconds`. */
  timeoutScale: number;
  /** Whether a task function exists; `false` fails the load like the CDK synth does. */
  taskExists: (task: string) => boolean;
}

export function loadStateMachines(options: LoadOptions): Map<string, LoadedStateMachine> {
  if (!existsSync(options.dir)) return new Map();
  const files = readdirSync(options.dir)
    .filter((file) => file.endsWith('.asl.json'))
    .sort();
  const known = new Set(files.map((file) => basename(file, '.asl.json')));
  const machines = new Map<string, LoadedStateMachine>();
  for (const file of files) {
    const name = basename(file, '.asl.json');
    machines.set(name, loadStateMachine(join(options.dir, file), name, known, options));
  }
  return machines;
}

function loadStateMachine(
  path: string,
  name: string,
  known: Set<string>,
  options: LoadOptions,
): LoadedStateMachine {
  const template = readFileSync(path, 'utf8');
  const text = substitute(template, path, known, options);
  const definition = parseSubstituted(text, path);
  if ((definition as { QueryLanguage?: string }).QueryLanguage === 'JSONata') {
    throw new WorkflowDefinitionError(`${path}: JSONata is not supported by the local engine; use JSONPath.`);
  }
  if (hasPlainNames(options)) {
    const canonical = substitute(template, path, known, canonicalOptions(options));
    validateOnce(canonical, () => parseSubstituted(canonical, path), path);
  } else {
    validateOnce(text, () => structuredClone(definition), path);
  }
  const tasks = new Map<string, TaskBinding>();
  const states = new Set<string>();
  for (const [stateName, state] of statesOf(definition)) {
    states.add(stateName);
    if (state.Type === 'Task') tasks.set(stateName, bindTask(path, stateName, state, options));
  }
  const runnable = new StateMachine(runnableDefinition(definition, options), {
    validationOptions: { noValidate: true },
  });
  return { name, path, arn: options.naming.stateMachineArn(name), definition, runnable, tasks, states };
}

function parseSubstituted(text: string, path: string): StateMachineDefinition {
  try {
    return JSON.parse(text) as StateMachineDefinition;
  } catch (error) {
    throw new WorkflowDefinitionError(`${path}: not valid JSON after substitution (${errorMessage(error)})`, {
      cause: error,
    });
  }
}

/**
 * Stacks differ only in their stage, table and bucket names, and names made of letters, digits
 * and hyphens fill the placeholders of every stack alike: the stage becomes part of function,
 * state machine and event bus names, all valid ARNs either way. For such stacks the definition is
 * validated as filled with one canonical set of names, so asl-validator's verdict is reached once
 * per file (and remembered), not once per stack — a test run starts ~60 stacks on distinct stages,
 * and a clean checkout validated each (~20 CPU-seconds). Any other name is validated as filled.
 */
const PLAIN_NAME = /^[A-Za-z0-9-]+$/;

function hasPlainNames(options: LoadOptions): boolean {
  return [options.naming.stage, options.tableName, options.bucketName].every((name) => PLAIN_NAME.test(name));
}

function canonicalOptions(options: LoadOptions): LoadOptions {
  return {
    ...options,
    naming: new LocalNaming('validation', options.naming.region, options.naming.account),
    tableName: 'pluginops-validation-main',
    bucketName: 'pluginops-validation-packages',
  };
}

/**
 * asl-validator (with ARN and path checks) compiles its JSON schemas on every call: 0.2–0.5 s of
 * CPU per state machine, and every local stack loads the same files again (each test suite's
 * stack, every `npm start`). A definition that passed is remembered by the SHA-256 of its
 * substituted text and the validator's version, in this process and as an empty marker file in
 * node_modules/.cache/pluginops/asl-valid/; anything else is validated, and a failure is never
 * remembered.
 */
function validateOnce(text: string, definition: () => StateMachineDefinition, path: string): void {
  const key = createHash('sha256').update(validatorVersion()).update('\0').update(text).digest('hex');
  if (validated.has(key)) return;
  const marker = join(ASL_VALIDATION_CACHE, key);
  if (!existsSync(marker)) {
    try {
      // It annotates what it checks, so it gets a fresh copy, made only when it runs.
      new StateMachine(definition());
    } catch (error) {
      throw new WorkflowDefinitionError(`${path}: ${errorMessage(error)}`, { cause: error });
    }
    try {
      mkdirSync(dirname(marker), { recursive: true });
      writeFileSync(marker, '');
    } catch {
      // A read-only checkout validates every time.
    }
  }
  validated.add(key);
}

/** Where definitions that passed asl-validator are remembered (one empty file per hash). */
export const ASL_VALIDATION_CACHE = join(REPO_ROOT, 'node_modules', '.cache', 'pluginops', 'asl-valid');
const validated = new Set<string>();
let validatorVersionText: string | undefined;

function validatorVersion(): string {
  validatorVersionText ??= ['aws-local-stepfunctions', 'asl-validator']
    .map((name) => {
      try {
        const manifest = readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8');
        return `${name}@${(JSON.parse(manifest) as { version?: string }).version ?? '?'}`;
      } catch {
        return `${name}@?`;
      }
    })
    .join(' ');
  return validatorVersionText;
}

function substitute(asl: string, path: string, known: Set<string>, options: LoadOptions): string {
  const { naming } = options;
  const values = new Map<string, string>();
  for (const placeholder of placeholdersOf(asl)) {
    const functionMatch = FUNCTION_PLACEHOLDER.exec(placeholder);
    const machineMatch = STATE_MACHINE_PLACEHOLDER.exec(placeholder);
    if (functionMatch?.[1] !== undefined) {
      const task = pascalToKebab(functionMatch[1]);
      if (!options.taskExists(task)) {
        throw new WorkflowDefinitionError(
          `${path} needs a task function, but functions/tasks/${task}.ts does not exist (\${${placeholder}}).`,
        );
      }
      values.set(placeholder, naming.functionArn(task));
    } else if (machineMatch?.[1] !== undefined) {
      const target = pascalToKebab(machineMatch[1]);
      if (!known.has(target)) {
        throw new WorkflowDefinitionError(
          `${path}: \${${placeholder}} names ${target}.asl.json, which does not exist.`,
        );
      }
      values.set(placeholder, naming.stateMachineArn(target));
    } else {
      const fixed: Record<string, string> = {
        EventBusName: naming.eventBusName,
        EventBusArn: naming.eventBusArn,
        TableName: options.tableName,
        BucketName: options.bucketName,
        Stage: naming.stage,
      };
      const value = fixed[placeholder];
      if (value === undefined) {
        throw new WorkflowDefinitionError(
          `${path}: unknown substitution \${${placeholder}}. Use \${<Task>FunctionArn}, \${<Name>StateMachineArn}, ` +
            `\${EventBusName}, \${EventBusArn}, \${TableName}, \${BucketName} or \${Stage} (infra/constructs/workflows.ts).`,
        );
      }
      values.set(placeholder, value);
    }
  }
  // Values are spliced into JSON strings, so they are escaped as JSON string content.
  return asl.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, placeholder: string) =>
    JSON.stringify(values.get(placeholder) ?? '').slice(1, -1),
  );
}

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const START_EXECUTION = /^arn:aws:states:::states:startExecution(?:\.(sync(?::2)?))?$/;
const PUT_EVENTS = 'arn:aws:states:::events:putEvents';

function bindTask(path: string, stateName: string, state: AslState, options: LoadOptions): TaskBinding {
  const resource = String(state.Resource);
  const timeout: TaskTimeout = {
    timeoutMs:
      typeof state.TimeoutSeconds === 'number'
        ? timerSeconds(state.TimeoutSeconds * options.timeoutScale) * 1000
        : undefined,
    timeoutFromInput: movesTimeoutPath(state),
  };
  const where = `${path}: state ${stateName}`;
  const functionTask = LAMBDA_FUNCTION_ARN.test(resource) ? options.naming.taskOf(resource) : undefined;
  if (functionTask !== undefined)
    return { kind: 'function', state: stateName, task: functionTask, ...timeout };
  if (resource === LAMBDA_INVOKE || resource === `${LAMBDA_INVOKE}.waitForTaskToken`) {
    const waitForTaskToken = resource.endsWith('.waitForTaskToken');
    const parameters = (state.Parameters ?? {}) as Record<string, unknown>;
    const functionName = parameters.FunctionName;
    if (typeof functionName === 'string' && options.naming.taskOf(functionName) === undefined) {
      throw new WorkflowDefinitionError(
        `${where}: FunctionName ${functionName} is not a task function; use \${<Task>FunctionArn}.`,
      );
    }
    if (functionName === undefined && parameters['FunctionName.$'] === undefined) {
      throw new WorkflowDefinitionError(`${where}: ${resource} needs Parameters.FunctionName.`);
    }
    if (waitForTaskToken && !JSON.stringify(state.Parameters ?? null).includes('$$.Task.Token')) {
      throw new WorkflowDefinitionError(
        `${where}: a .waitForTaskToken state must pass $$.Task.Token in its Parameters, or nobody can answer it.`,
      );
    }
    return { kind: 'lambda-invoke', state: stateName, waitForTaskToken, ...timeout };
  }
  const startExecution = START_EXECUTION.exec(resource);
  if (startExecution !== null) {
    const mode = startExecution[1] === 'sync' ? 'sync' : startExecution[1] === 'sync:2' ? 'sync:2' : 'async';
    return { kind: 'start-execution', state: stateName, mode, ...timeout };
  }
  if (resource === PUT_EVENTS) return { kind: 'put-events', state: stateName, ...timeout };
  throw new WorkflowDefinitionError(
    `${where}: resource ${resource} cannot run locally. Supported: \${<Task>FunctionArn}, ` +
      `${LAMBDA_INVOKE}[.waitForTaskToken], arn:aws:states:::states:startExecution[.sync|.sync:2], ${PUT_EVENTS}.`,
  );
}

interface AslState {
  Type: string;
  Resource?: unknown;
  Parameters?: unknown;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Seconds?: number;
  Retry?: Array<{ IntervalSeconds?: number; MaxDelaySeconds?: number }>;
  ItemProcessor?: AslDefinition;
  Iterator?: AslDefinition;
  Branches?: AslDefinition[];
}

interface AslDefinition {
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
}

/** Whether the runnable definition moves this state's `TimeoutSecondsPath` into its Parameters. */
function movesTimeoutPath(state: AslState): boolean {
  return (
    state.Type === 'Task' &&
    typeof state.TimeoutSecondsPath === 'string' &&
    state.Parameters !== null &&
    typeof state.Parameters === 'object' &&
    !Array.isArray(state.Parameters)
  );
}

/** Every state, with those inside Map and Parallel states. */
function* statesOf(definition: StateMachineDefinition | AslDefinition): Generator<[string, AslState]> {
  for (const [name, state] of Object.entries((definition as AslDefinition).States)) {
    yield [name, state];
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested !== undefined) yield* statesOf(nested);
    for (const branch of state.Branches ?? []) yield* statesOf(branch);
  }
}

/**
 * The definition that actually runs. Retry intervals and Wait `Seconds` are scaled by
 * `timeScale` (so tests run backoff in milliseconds while BackoffRate, MaxDelaySeconds and jitter
 * still apply), Task and execution timeouts by `timeoutScale`, all capped to what a Node timer
 * holds. A Task without a timeout gets the longest safe one instead of the engine's 60 s default
 * (AWS has none). `TimeoutSecondsPath` (resolved like AWS does, see {@link RESOLVED_TIMEOUT_FIELD}),
 * `SecondsPath` and timestamp waits are not scaled.
 */
function runnableDefinition(
  definition: StateMachineDefinition,
  { timeScale, timeoutScale }: Pick<LoadOptions, 'timeScale' | 'timeoutScale'>,
): StateMachineDefinition {
  const scaled = structuredClone(definition) as StateMachineDefinition & AslDefinition;
  if (typeof scaled.TimeoutSeconds === 'number') {
    scaled.TimeoutSeconds = timerSeconds(scaled.TimeoutSeconds * timeoutScale);
  }
  for (const [, state] of statesOf(scaled)) {
    if (state.Type === 'Task') {
      if (typeof state.TimeoutSeconds === 'number') {
        state.TimeoutSeconds = timerSeconds(state.TimeoutSeconds * timeoutScale);
      } else if (state.TimeoutSecondsPath === undefined) {
        state.TimeoutSeconds = UNBOUNDED_TASK_TIMEOUT_SECONDS;
      }
      if (movesTimeoutPath(state)) {
        (state.Parameters as Record<string, unknown>)[`${RESOLVED_TIMEOUT_FIELD}.$`] =
          state.TimeoutSecondsPath;
        state.TimeoutSecondsPath = `$.${RESOLVED_TIMEOUT_FIELD}`;
      }
    }
    if (state.Type === 'Wait' && typeof state.Seconds === 'number') {
      state.Seconds = timerSeconds(state.Seconds * timeScale);
    }
    for (const retrier of state.Retry ?? []) {
      retrier.IntervalSeconds = timerSeconds((retrier.IntervalSeconds ?? 1) * timeScale);
      if (typeof retrier.MaxDelaySeconds === 'number') {
        retrier.MaxDelaySeconds = timerSeconds(retrier.MaxDelaySeconds * timeScale);
      }
    }
  }
  return scaled;
}

/** A Node timer fires at once beyond ~24.8 days, so longer waits are capped just below that. */
function timerSeconds(seconds: number): number {
  return Math.min(seconds, UNBOUNDED_TASK_TIMEOUT_SECONDS);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
