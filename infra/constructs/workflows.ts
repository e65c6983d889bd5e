/**
 * State machines: every `statemachines/*.asl.json` present becomes one Step Functions state
 * machine `pluginops-<stage>-<name>`; with no ASL files this construct creates nothing. The ASL
 * stays plain JSON (the local engine runs the same files) and names AWS resources only through
 * `${...}` substitutions, filled here by convention:
 *
 * | placeholder                  | value                                                          |
 * |------------------------------|----------------------------------------------------------------|
 * | `${<Pascal>FunctionArn}`     | task function for `functions/tasks/<kebab>.ts`                 |
 * |                              | (`${ResolveFunctionArn}` → `resolve.ts`, `${AcquireLockFunctionArn}` → `acquire-lock.ts`) |
 * | `${<Pascal>StateMachineArn}` | state machine of `statemachines/<kebab>.asl.json` (`${DeployStateMachineArn}`) |
 * | `${EventBusName}`, `${EventBusArn}` | the stage bus                                           |
 * | `${TableName}`, `${BucketName}`, `${Stage}` | main table, package bucket, stage name          |
 *
 * An unknown placeholder, or a task placeholder without its handler file, fails the synth.
 *
 * Each task function gets the access its handler needs (`TASK_ACCESS`, derived from what the
 * handlers call); a task not listed there gets `DEFAULT_TASK_ACCESS` (table items and events only).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Arn, ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, type IConstruct } from 'constructs';
import { ENV, type StateMachineName, stateMachineArnVariable } from '#config/names.ts';
import { PROJECT_ROOT } from '../lambda/bundling.ts';
import { recoveryEntry, taskEntry } from '../lambda/entries.ts';
import type { StageConfig } from '../stages.ts';
import { type Access, grantExistenceChecks, grantObjects, grantTable } from './access.ts';
import { LOG_RETENTION, PluginopsFunction, removalPolicyOf } from './pluginops-function.ts';
import { type SecretName, secretsFor } from './secrets.ts';
import { BUCKET_PREFIXES } from './storage.ts';

export const DEFAULT_STATEMACHINES_DIR = join(PROJECT_ROOT, 'statemachines');
export const DEFAULT_TASKS_DIR = join(PROJECT_ROOT, 'functions', 'tasks');

const FUNCTION_PLACEHOLDER = /^([A-Z][A-Za-z0-9]*)FunctionArn$/;
const STATE_MACHINE_PLACEHOLDER = /^([A-Z][A-Za-z0-9]*)StateMachineArn$/;

/** `AcquireLock` → `acquire-lock`. */
export function pascalToKebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** `${Name}` placeholders used by an ASL document (`$${...}` is not special in ASL). */
export function placeholdersOf(asl: string): string[] {
  return [...new Set([...asl.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((match) => match[1] as string))].sort();
}

export interface AslFile {
  /** `deploy` for `deploy.asl.json`. */
  name: string;
  path: string;
  placeholders: string[];
  /** Smallest `TimeoutSeconds` of the Task states that invoke each task (kebab name). */
  taskTimeouts: Record<string, number>;
}

/** A Lambda task stops this long before its state would time out. */
export const TASK_TIMEOUT_MARGIN_SECONDS = 5;
/** Lambda timeout of a task whose states set no `TimeoutSeconds` (e.g. `.waitForTaskToken`). */
export const DEFAULT_TASK_TIMEOUT = Duration.minutes(5);

interface AslState {
  Type?: string;
  Resource?: string;
  TimeoutSeconds?: number;
  Parameters?: { FunctionName?: string };
  Arguments?: { FunctionName?: string };
  Iterator?: { States?: Record<string, AslState> };
  ItemProcessor?: { States?: Record<string, AslState> };
  Branches?: { States?: Record<string, AslState> }[];
}

/**
 * For each task function an ASL document invokes synchronously, the smallest `TimeoutSeconds`
 * of its Task states (nested Map and Parallel states included). `.waitForTaskToken` states are
 * left out: there the function returns at once and the state waits for the callback.
 */
export function taskTimeoutsOf(asl: string): Record<string, number> {
  const timeouts: Record<string, number> = {};
  const visit = (states: Record<string, AslState> | undefined): void => {
    for (const state of Object.values(states ?? {})) {
      const target =
        state.Resource?.endsWith('.waitForTaskToken') === true
          ? undefined
          : (state.Parameters?.FunctionName ?? state.Arguments?.FunctionName ?? state.Resource);
      const match = /^\$\{([A-Z][A-Za-z0-9]*)FunctionArn\}$/.exec(target ?? '');
      if (state.Type === 'Task' && match?.[1] !== undefined && typeof state.TimeoutSeconds === 'number') {
        const task = pascalToKebab(match[1]);
        timeouts[task] = Math.min(timeouts[task] ?? Number.POSITIVE_INFINITY, state.TimeoutSeconds);
      }
      visit(state.Iterator?.States);
      visit(state.ItemProcessor?.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit((JSON.parse(asl) as { States?: Record<string, AslState> }).States);
  return timeouts;
}

/**
 * Lambda timeout of a task: just under the shortest state timeout that invokes it, so the
 * function has stopped before its state times out and the Catch path (Rollback, MarkFailed) never
 * runs next to a still-running attempt. At most Lambda's 15 minutes.
 */
export function taskLambdaTimeout(stateTimeoutSeconds: number | undefined): Duration {
  if (stateTimeoutSeconds === undefined) return DEFAULT_TASK_TIMEOUT;
  const seconds = Math.min(15 * 60, stateTimeoutSeconds - TASK_TIMEOUT_MARGIN_SECONDS);
  if (seconds < 10) {
    throw new Error(
      `A task state timeout of ${stateTimeoutSeconds} s leaves its function under 10 s; raise TimeoutSeconds.`,
    );
  }
  return Duration.seconds(seconds);
}

export function findAslFiles(dir: string): AslFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.asl.json'))
    .sort()
    .map((file) => {
      const path = join(dir, file);
      const asl = readFileSync(path, 'utf8');
      return {
        name: basename(file, '.asl.json'),
        path,
        placeholders: placeholdersOf(asl),
        taskTimeouts: taskTimeoutsOf(asl),
      };
    });
}

// ── State machine access for functions ──────────────────────────────────────────────────────────

/** `deploy` → `PLUGINOPS_DEPLOY_STATE_MACHINE_ARN` (one rule for infra and functions, `#config/names.ts`). */
export { stateMachineArnVariable };

/** Physical name of a stage's state machine: `pluginops-<stage>-<name>`. */
export function stateMachineName(stage: StageConfig, machine: string): string {
  return `${stage.resourcePrefix}-${machine}`;
}

/**
 * ARN of a stage's state machine, built from its name rather than a token, so functions and
 * state machines can refer to each other without dependency cycles.
 */
export function stateMachineArnOf(scope: IConstruct, stage: StageConfig, machine: string): string {
  return Stack.of(scope).formatArn({
    service: 'states',
    resource: 'stateMachine',
    resourceName: stateMachineName(stage, machine),
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** Every execution of a stage's state machine: `…:execution:pluginops-<stage>-<name>:*`. */
export function executionArnsOf(scope: IConstruct, stage: StageConfig, machine: string): string {
  return Arn.format(
    {
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachineName(stage, machine)}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    },
    Stack.of(scope),
  );
}

/**
 * Lets a function start executions of one state machine through `functions/adapters/workflow.ts`:
 * `states:StartExecution` on the machine, `states:DescribeExecution` on its executions (a duplicate
 * start is told apart by describing the existing execution; the sweep API waits on it), and the
 * ARN in `PLUGINOPS_<MACHINE>_STATE_MACHINE_ARN`.
 */
export function grantStartExecution(fn: PluginopsFunction, stage: StageConfig, machine: string): void {
  const machineArn = stateMachineArnOf(fn, stage, machine);
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [machineArn] }),
  );
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['states:DescribeExecution'],
      resources: [executionArnsOf(fn, stage, machine)],
    }),
  );
  fn.function.addEnvironment(stateMachineArnVariable(machine), machineArn);
}

// ── Task access ─────────────────────────────────────────────────────────────────────────────────

/** How often the recovery pass runs on AWS (locally: every minute and at start-up). */
export const RECOVERY_INTERVAL = Duration.minutes(5);

export interface TaskAccess {
  /** Main table items (every deploy task records its step on the deployment). */
  table: Access;
  /** S3 object access per prefix of the package bucket. */
  objects: { prefix: string; access: 'read' | 'write' | 'read-write' }[];
  /** Asks whether objects exist (publishing stores a package once): `s3:ListBucket`. */
  checksObjects: boolean;
  /** May put domain events on the stage bus. */
  putEvents: boolean;
  /** Probes the plugin host over HTTP: gets `PLUGINOPS_RUNTIME_URL`. */
  probesRuntime: boolean;
  /** State machines it starts (see {@link grantStartExecution}). */
  startsMachines: readonly StateMachineName[];
  /** Runtime secrets, loaded by `infra/runtime/load-secrets.ts` before the handler runs. */
  secrets: SecretName[];
}

/** Key prefix of the runtime desired-state documents (`functions/adapters/runtime-host.ts`). */
export const RUNTIME_PREFIX = 'runtime/';

const TASK_BASE: TaskAccess = {
  table: 'read-write',
  objects: [],
  checksObjects: false,
  // Events are items of the main table (the outbox); only the outbox relay puts them on the bus.
  putEvents: false,
  probesRuntime: false,
  startsMachines: [],
  secrets: [],
};

/** Tasks not listed in {@link TASK_ACCESS}: table items and domain events, nothing else. */
export const DEFAULT_TASK_ACCESS: TaskAccess = TASK_BASE;

const desiredStateWrite = { prefix: RUNTIME_PREFIX, access: 'write' } as const;

/**
 * Planning a deployment (`resolveDeploymentPlan`) resolves its dependencies and may fetch a
 * missing one from its source and publish it, exactly as `POST /v1/packages` would: GitHub and
 * marketplace tokens, `packages/` read/write with an existence check, `Package Published`.
 */
const PLANS: TaskAccess = {
  ...TASK_BASE,
  objects: [{ prefix: BUCKET_PREFIXES.packages, access: 'read-write' }],
  checksObjects: true,
  secrets: ['github', 'marketplace'],
};

/**
 * What each task function may do — derived from what its handler calls (the deploy steps in
 * `functions/services/deploy-workflow.ts`, the sweep steps in `functions/services/sweep.ts`).
 * Desired state is only ever written (`writeDesiredState`, PutObject on `runtime/*`); no task
 * opens a sealed plugin config (they copy the sealed value), so none gets the config key.
 * Tasks with secrets get a generated entry that loads them first (`taskEntry`).
 */
export const TASK_ACCESS: Readonly<Record<string, TaskAccess>> = {
  // Marks the deployment running, plans the deployment with its dependencies, reads the policy.
  resolve: PLANS,
  // Re-reads the stored package bytes and judges them; records only its step.
  verify: { ...TASK_BASE, putEvents: false, objects: [{ prefix: BUCKET_PREFIXES.packages, access: 'read' }] },
  'await-approval': TASK_BASE,
  // Re-plans under the lease; settling an abandoned deployment re-syncs the desired state.
  // The tasks that may call a Dify plugin daemon (PLUGINOPS_RUNTIME=dify-daemon) get its server key.
  acquire: {
    ...PLANS,
    objects: [...PLANS.objects, desiredStateWrite],
    secrets: [...PLANS.secrets, 'difyDaemon'],
  },
  // With a Dify plugin daemon, Snapshot lists it to find drift (and emits the drift event).
  snapshot: {
    ...TASK_BASE,
    objects: [{ prefix: BUCKET_PREFIXES.backups, access: 'write' }],
    secrets: ['difyDaemon'],
  },
  apply: { ...TASK_BASE, objects: [desiredStateWrite], secrets: ['difyDaemon'] },
  probe: { ...TASK_BASE, putEvents: false, probesRuntime: true, secrets: ['difyDaemon'] },
  release: TASK_BASE,
  rollback: { ...TASK_BASE, objects: [desiredStateWrite], probesRuntime: true, secrets: ['difyDaemon'] },
  alert: TASK_BASE,
  'mark-failed': TASK_BASE,
  'sweep-find-due-tenants': { ...TASK_BASE, table: 'read', putEvents: false },
  'sweep-plan-tenant': { ...TASK_BASE, table: 'read', putEvents: false },
  // Closes waves, creates rollouts, publishes rollout-halt alerts.
  'sweep-decide-waves': TASK_BASE,
  // Starts the tenant's deployments (the deploy use-case), records the run, advances the slot.
  'sweep-upgrade-tenant': { ...TASK_BASE, startsMachines: ['deploy'] },
  'sweep-summarize': { ...TASK_BASE, putEvents: false },
};

export interface WorkflowsProps {
  stage: StageConfig;
  environment: Record<string, string>;
  key: kms.IKey;
  mainTable: dynamodb.ITable;
  bucket: s3.IBucket;
  bus: events.IEventBus;
  secrets: Readonly<Record<SecretName, secretsmanager.ISecret>>;
  /** Defaults to `statemachines/`; tests point it at generated fixtures. */
  statemachinesDir?: string;
  /** Defaults to `functions/tasks/`. */
  tasksDir?: string;
}

/** Smallest state timeout per task across all ASL files (a task may serve several machines). */
function smallestTaskTimeouts(files: readonly AslFile[]): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const file of files) {
    for (const [task, seconds] of Object.entries(file.taskTimeouts)) {
      merged[task] = Math.min(merged[task] ?? Number.POSITIVE_INFINITY, seconds);
    }
  }
  return merged;
}

export class Workflows extends Construct {
  readonly stateMachines: Record<string, sfn.StateMachine> = {};
  readonly taskFunctions: Record<string, PluginopsFunction> = {};
  /** The recovery pass (present with the deploy state machine). */
  readonly recovery: PluginopsFunction | undefined;
  /** Names of the state machines this stage has (one per ASL file), known before any is built. */
  readonly machineNames: ReadonlySet<string>;
  private readonly taskTimeouts: Record<string, number>;

  constructor(scope: Construct, id: string, props: WorkflowsProps) {
    super(scope, id);
    const { stage } = props;
    const files = findAslFiles(props.statemachinesDir ?? DEFAULT_STATEMACHINES_DIR);
    const tasksDir = props.tasksDir ?? DEFAULT_TASKS_DIR;
    const known = new Set(files.map((file) => file.name));
    this.machineNames = known;
    this.taskTimeouts = smallestTaskTimeouts(files);

    for (const file of files) {
      const substitutions: Record<string, string> = {};
      const role = new iam.Role(this, `${file.name}-role`, {
        assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
        description: `Runs the ${stage.resourcePrefix}-${file.name} state machine`,
      });
      for (const placeholder of file.placeholders) {
        substitutions[placeholder] = this.resolvePlaceholder(
          placeholder,
          file,
          { ...props, tasksDir },
          known,
          role,
        );
      }
      const logGroup = new logs.LogGroup(this, `${file.name}-logs`, {
        logGroupName: `/aws/vendedlogs/states/${stage.resourcePrefix}-${file.name}`,
        retention: LOG_RETENTION[stage.logRetentionDays],
        removalPolicy: removalPolicyOf(stage),
      });
      const machine = new sfn.StateMachine(this, `${file.name}-state-machine`, {
        stateMachineName: stateMachineName(stage, file.name),
        definitionBody: sfn.DefinitionBody.fromFile(file.path),
        definitionSubstitutions: substitutions,
        stateMachineType: sfn.StateMachineType.STANDARD,
        role,
        tracingEnabled: true,
        // Execution data can carry tenant config; the step timeline lives in DynamoDB anyway.
        logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      });
      this.stateMachines[file.name] = machine;
    }
    if (this.stateMachines.deploy !== undefined) this.recovery = this.recoveryPass(props);
  }

  /**
   * The recovery pass (functions/services/deploy-recovery.ts), every 5 minutes: settles
   * deployments whose run is gone with the deploy steps' own failure path, so it may do what
   * Rollback and MarkFailed do, and read the deploy executions.
   */
  private recoveryPass(props: WorkflowsProps): PluginopsFunction {
    const fn = new PluginopsFunction(this, 'recovery', {
      stage: props.stage,
      entry: recoveryEntry(),
      description: 'pluginops recovery pass: settles deployments whose workflow run is gone',
      environment: { ...props.environment, [ENV.runtimeUrl]: props.stage.runtimeUrl },
      timeout: Duration.minutes(5),
      memorySize: 512,
    });
    grantTable(fn.role, props.mainTable, props.key, 'read-write');
    grantObjects(fn.role, props.bucket, props.key, RUNTIME_PREFIX, 'write');
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution'],
        resources: [executionArnsOf(fn, props.stage, 'deploy')],
      }),
    );
    fn.function.addEnvironment(
      stateMachineArnVariable('deploy'),
      stateMachineArnOf(fn, props.stage, 'deploy'),
    );
    new events.Rule(this, 'RecoverySchedule', {
      description: `pluginops ${props.stage.name}: recovery pass every 5 minutes`,
      schedule: events.Schedule.rate(RECOVERY_INTERVAL),
      targets: [new targets.LambdaFunction(fn.function, { retryAttempts: 2 })],
    });
    return fn;
  }

  private resolvePlaceholder(
    placeholder: string,
    file: AslFile,
    props: WorkflowsProps & { tasksDir: string },
    known: Set<string>,
    role: iam.Role,
  ): string {
    const functionMatch = FUNCTION_PLACEHOLDER.exec(placeholder);
    if (functionMatch?.[1] !== undefined) {
      const task = this.taskFunction(pascalToKebab(functionMatch[1]), file, props);
      task.function.grantInvoke(role);
      return task.function.functionArn;
    }
    const machineMatch = STATE_MACHINE_PLACEHOLDER.exec(placeholder);
    if (machineMatch?.[1] !== undefined) {
      const target = pascalToKebab(machineMatch[1]);
      if (!known.has(target)) {
        throw new Error(`${file.path}: \${${placeholder}} names ${target}.asl.json, which does not exist.`);
      }
      // Built from the name, not a token, so state machines may start each other without a cycle.
      const machineArn = stateMachineArnOf(this, props.stage, target);
      role.addToPolicy(
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [machineArn] }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: [executionArnsOf(this, props.stage, target)],
        }),
      );
      return machineArn;
    }
    switch (placeholder) {
      case 'EventBusName':
      case 'EventBusArn':
        props.bus.grantPutEventsTo(role);
        return placeholder === 'EventBusName' ? props.bus.eventBusName : props.bus.eventBusArn;
      case 'TableName':
        return props.mainTable.tableName;
      case 'BucketName':
        return props.bucket.bucketName;
      case 'Stage':
        return props.stage.name;
      default:
        throw new Error(
          `${file.path}: unknown substitution \${${placeholder}}. Use \${<Task>FunctionArn}, \${<Name>StateMachineArn}, ` +
            `\${EventBusName}, \${EventBusArn}, \${TableName}, \${BucketName} or \${Stage} (infra/constructs/workflows.ts).`,
        );
    }
  }

  /** One function per task file, shared by every state machine that names it. */
  private taskFunction(
    task: string,
    file: AslFile,
    props: WorkflowsProps & { tasksDir: string },
  ): PluginopsFunction {
    const existing = this.taskFunctions[task];
    if (existing !== undefined) return existing;
    const entryFile = join(props.tasksDir, `${task}.ts`);
    if (!existsSync(entryFile)) {
      throw new Error(`${file.path} needs a task function, but ${entryFile} does not exist.`);
    }
    const access = TASK_ACCESS[task] ?? DEFAULT_TASK_ACCESS;
    const secrets = secretsFor(access.secrets, props.secrets);
    const fn = new PluginopsFunction(this, `task-${task}`, {
      stage: props.stage,
      entry: taskEntry(task, entryFile, access.secrets.length > 0),
      description: `pluginops workflow task "${task}"`,
      environment: {
        ...props.environment,
        [ENV.eventBus]: props.bus.eventBusName,
        ...(access.probesRuntime ? { [ENV.runtimeUrl]: props.stage.runtimeUrl } : {}),
      },
      secrets,
      timeout: taskLambdaTimeout(this.taskTimeouts[task]),
      memorySize: 1024,
    });
    grantTable(fn.role, props.mainTable, props.key, access.table);
    for (const { prefix, access: objectAccess } of access.objects) {
      grantObjects(fn.role, props.bucket, props.key, prefix, objectAccess);
    }
    if (access.checksObjects) grantExistenceChecks(fn.role, props.bucket);
    if (access.putEvents) props.bus.grantPutEventsTo(fn.role);
    for (const machine of access.startsMachines) {
      if (this.machineNames.has(machine)) grantStartExecution(fn, props.stage, machine);
    }
    this.taskFunctions[task] = fn;
    return fn;
  }
}
