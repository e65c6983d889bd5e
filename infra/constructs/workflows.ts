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
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Arn, ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PROJECT_ROOT } from '../lambda/bundling.ts';
import type { StageConfig } from '../stages.ts';
import { grantObjects, grantTable } from './access.ts';
import { LOG_RETENTION, PluginopsFunction, removalPolicyOf } from './pluginops-function.ts';
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
}

export function findAslFiles(dir: string): AslFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.asl.json'))
    .sort()
    .map((file) => {
      const path = join(dir, file);
      return {
        name: basename(file, '.asl.json'),
        path,
        placeholders: placeholdersOf(readFileSync(path, 'utf8')),
      };
    });
}

export interface WorkflowsProps {
  stage: StageConfig;
  environment: Record<string, string>;
  key: kms.IKey;
  mainTable: dynamodb.ITable;
  idempotencyTable: dynamodb.ITable;
  bucket: s3.IBucket;
  bus: events.IEventBus;
  /** Defaults to `statemachines/`; tests point it at generated fixtures. */
  statemachinesDir?: string;
  /** Defaults to `functions/tasks/`. */
  tasksDir?: string;
}

export class Workflows extends Construct {
  readonly stateMachines: Record<string, sfn.StateMachine> = {};
  readonly taskFunctions: Record<string, PluginopsFunction> = {};

  constructor(scope: Construct, id: string, props: WorkflowsProps) {
    super(scope, id);
    const { stage } = props;
    const files = findAslFiles(props.statemachinesDir ?? DEFAULT_STATEMACHINES_DIR);
    const tasksDir = props.tasksDir ?? DEFAULT_TASKS_DIR;
    const known = new Set(files.map((file) => file.name));

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
        stateMachineName: `${stage.resourcePrefix}-${file.name}`,
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
  }

  private resolvePlaceholder(
    placeholder: string,
    file: AslFile,
    props: WorkflowsProps & { tasksDir: string },
    known: Set<string>,
    role: iam.Role,
  ): string {
    const stack = Stack.of(this);
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
      const name = `${props.stage.resourcePrefix}-${target}`;
      const machineArn = stack.formatArn({
        service: 'states',
        resource: 'stateMachine',
        resourceName: name,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
      role.addToPolicy(
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [machineArn] }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: [
            Arn.format(
              {
                service: 'states',
                resource: 'execution',
                resourceName: `${name}:*`,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              },
              stack,
            ),
          ],
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
    const fn = new PluginopsFunction(this, `task-${task}`, {
      stage: props.stage,
      entry: { id: `task-${task}`, entryFile },
      description: `pluginops workflow task "${task}"`,
      environment: { ...props.environment, PLUGINOPS_EVENT_BUS: props.bus.eventBusName },
      timeout: Duration.minutes(5),
      memorySize: 1024,
    });
    // Baseline for workflow tasks until each task's needs are pinned down with its handler:
    // catalog and installation state, idempotent retries, config snapshots, domain events.
    grantTable(fn.role, props.mainTable, props.key, 'read-write');
    grantTable(fn.role, props.idempotencyTable, props.key, 'read-write');
    grantObjects(fn.role, props.bucket, props.key, BUCKET_PREFIXES.packages, 'read');
    grantObjects(fn.role, props.bucket, props.key, BUCKET_PREFIXES.backups, 'read-write');
    props.bus.grantPutEventsTo(fn.role);
    this.taskFunctions[task] = fn;
    return fn;
  }
}
