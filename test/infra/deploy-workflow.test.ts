/**
 * The stack as it deploys today: the real `statemachines/*.asl.json` and `functions/tasks/*.ts`,
 * built once. Asserts what the deploy workflow needs at runtime (who may start, describe and
 * answer which state machine; what each task may touch) and that the ASL reaches AWS whole.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AssetStaging } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { stateMachineArnVariable as adapterArnVariable } from '#adapters/workflow.ts';
import { ROUTES } from '#api/routes.ts';
import { decodeConfigKey } from '#services/deploy-config.ts';
import type { PluginopsFunction } from '../../infra/constructs/pluginops-function.ts';
import { CONFIG_KEY_GENERATION } from '../../infra/constructs/secrets.ts';
import {
  DEFAULT_STATEMACHINES_DIR,
  placeholdersOf,
  RUNTIME_PREFIX,
  stateMachineArnVariable,
  TASK_TIMEOUT_MARGIN_SECONDS,
  taskTimeoutsOf,
} from '../../infra/constructs/workflows.ts';
import { placeholderRuntimeUrl } from '../../infra/stages.ts';
import { actionsOf, resourcesFor, roleStatements, type SynthesizedStage, synthStages } from './synth.ts';

const DEPLOY_ASL_PATH = join(DEFAULT_STATEMACHINES_DIR, 'deploy.asl.json');
const DEPLOY_ASL = readFileSync(DEPLOY_ASL_PATH, 'utf8');

/** The deploy workflow's states (docs/design.md#deploy-workflow); the synthesized definition keeps them. */
const DEPLOY_STATES = [
  'Resolve',
  'Verify',
  'NeedsApproval',
  'AwaitApproval',
  'Acquire',
  'Snapshot',
  'Apply',
  'Probe',
  'Release',
  'Done',
  'Rollback',
  'Alert',
  'MarkFailed',
  'MarkRejected',
  'Failed',
  'Rejected',
];

const DEPLOY_GROUP_ROUTES = [
  'deployments-create',
  'deployments-approve',
  'deployments-reject',
  'installation-hold-delete',
  'sweeps-run',
];

let dev: SynthesizedStage;
let resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;

beforeAll(() => {
  // Only the template is asserted here; `npm run synth` bundles every task for real.
  ({ dev } = synthStages(['dev'], { statemachinesDir: DEFAULT_STATEMACHINES_DIR }, { bundle: false }));
  resources = dev.template.toJSON().Resources;
}, 120_000);

function logicalId(construct: { node: { defaultChild?: unknown } }): string {
  return dev.stack.getLogicalId(construct.node.defaultChild as never);
}

function statementsOf(fn: PluginopsFunction) {
  return roleStatements(dev.stack, dev.template, fn.role.node.defaultChild as CfnRole);
}

function environmentOf(fn: PluginopsFunction): Record<string, unknown> {
  const properties = resources[logicalId(fn.function)]?.Properties as {
    Environment: { Variables: Record<string, unknown> };
  };
  return properties.Environment.Variables;
}

function task(name: string): PluginopsFunction {
  const fn = dev.stack.workflows.taskFunctions[name];
  if (fn === undefined) throw new Error(`no task function ${name}`);
  return fn;
}

function machineResource(name: string) {
  const machine = dev.stack.workflows.stateMachines[name];
  if (machine === undefined) throw new Error(`no ${name} state machine`);
  return resources[logicalId(machine)] as unknown as {
    Properties: {
      DefinitionS3Location: { Key: string };
      DefinitionSubstitutions: Record<string, unknown>;
      RoleArn: { 'Fn::GetAtt': [string, string] };
    };
  };
}

/**
 * The definition the stack uploads for a state machine: `DefinitionBody.fromFile` makes it an S3
 * asset, staged at synth; the template points at it by hash.
 */
function deployedDefinition(name: string): string {
  const machine = dev.stack.workflows.stateMachines[name];
  const asset = machine?.node
    .findAll()
    .find((child): child is s3assets.Asset => child instanceof s3assets.Asset);
  if (asset === undefined) throw new Error(`no definition asset for ${name}`);
  expect(machineResource(name).Properties.DefinitionS3Location.Key).toContain(asset.assetHash);
  return readFileSync((asset.node.findChild('Stage') as AssetStaging).absoluteStagedPath, 'utf8');
}

const machineArn = (name: string) => expect.stringContaining(`:stateMachine:pluginops-dev-${name}"`);
const executionArns = (name: string) => expect.stringContaining(`:execution:pluginops-dev-${name}:*"`);

describe('deploy route group', () => {
  it('serves the deployment, hold and sweep routes', () => {
    for (const handler of DEPLOY_GROUP_ROUTES) {
      const route = ROUTES.find((entry) => entry.handler === handler);
      expect(route?.group, handler).toBe('deploy');
    }
    expect(dev.stack.api.functions.deploy.functionName).toBe('pluginops-dev-api-deploy');
  });

  it('may start and describe the deploy and sweep state machines and knows their ARNs', () => {
    const fn = dev.stack.api.functions.deploy;
    const statements = statementsOf(fn);
    expect(resourcesFor(statements, 'states:StartExecution')).toEqual(
      expect.arrayContaining([machineArn('deploy'), machineArn('sweep')]),
    );
    expect(resourcesFor(statements, 'states:DescribeExecution')).toEqual(
      expect.arrayContaining([executionArns('deploy'), executionArns('sweep')]),
    );
    const variables = environmentOf(fn);
    expect(JSON.stringify(variables.PLUGINOPS_DEPLOY_STATE_MACHINE_ARN)).toContain(
      ':stateMachine:pluginops-dev-deploy"',
    );
    expect(JSON.stringify(variables.PLUGINOPS_SWEEP_STATE_MACHINE_ARN)).toContain(
      ':stateMachine:pluginops-dev-sweep"',
    );
  });

  it('may answer task tokens (resource * is the only form IAM accepts)', () => {
    const statements = statementsOf(dev.stack.api.functions.deploy);
    expect(resourcesFor(statements, 'states:SendTaskSuccess')).toEqual(['"*"']);
    expect(resourcesFor(statements, 'states:SendTaskFailure')).toEqual(['"*"']);
  });

  it('reads the config sealing key from Secrets Manager, and no other group does', () => {
    const configKey = logicalId(dev.stack.node.findChild('Secrets').node.findChild('ConfigKey') as never);
    const deployArns = JSON.stringify(environmentOf(dev.stack.api.functions.deploy).PLUGINOPS_SECRET_ARNS);
    expect(deployArns).toContain('PLUGINOPS_CONFIG_KEY');
    expect(deployArns).toContain(JSON.stringify({ Ref: configKey }));
    for (const [group, fn] of Object.entries(dev.stack.api.functions)) {
      if (group === 'deploy') continue;
      expect(JSON.stringify(environmentOf(fn).PLUGINOPS_SECRET_ARNS ?? ''), group).not.toContain(configKey);
    }
    for (const [name, fn] of Object.entries(dev.stack.workflows.taskFunctions)) {
      expect(JSON.stringify(environmentOf(fn).PLUGINOPS_SECRET_ARNS ?? ''), name).not.toContain(configKey);
    }
  });

  it('touches no object and puts no event', () => {
    const actions = actionsOf(statementsOf(dev.stack.api.functions.deploy));
    expect(actions.filter((action) => action.startsWith('s3:'))).toEqual([]);
    expect(actions).not.toContain('events:PutEvents');
  });
});

describe('other route groups', () => {
  it('leaves catalog-read without any write or workflow action', () => {
    const actions = actionsOf(statementsOf(dev.stack.api.functions['catalog-read']));
    for (const action of [
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:ConditionCheckItem',
      's3:PutObject',
      'events:PutEvents',
    ]) {
      expect(actions).not.toContain(action);
    }
    expect(actions.filter((action) => action.startsWith('states:'))).toEqual([]);
  });

  it('gives no state machine access to public, admin or catalog-write', () => {
    for (const group of ['public', 'admin', 'catalog-write'] as const) {
      const actions = actionsOf(statementsOf(dev.stack.api.functions[group]));
      expect(
        actions.filter((action) => action.startsWith('states:')),
        group,
      ).toEqual([]);
      expect(environmentOf(dev.stack.api.functions[group]), group).not.toHaveProperty(
        'PLUGINOPS_DEPLOY_STATE_MACHINE_ARN',
      );
    }
  });
});

describe('other starters of the deploy state machine', () => {
  it.each([
    ['the drop function', () => dev.stack.events.dropFunction],
    ['the sweep upgrade task', () => task('sweep-upgrade-tenant')],
  ])('%s may start and describe deploys and knows the ARN', (_name, fn) => {
    const statements = statementsOf(fn());
    expect(resourcesFor(statements, 'states:StartExecution')).toEqual([machineArn('deploy')]);
    expect(resourcesFor(statements, 'states:DescribeExecution')).toEqual([executionArns('deploy')]);
    expect(JSON.stringify(environmentOf(fn()).PLUGINOPS_DEPLOY_STATE_MACHINE_ARN)).toContain(
      ':stateMachine:pluginops-dev-deploy"',
    );
  });
});

describe('task functions', () => {
  const putResources = (name: string) => resourcesFor(statementsOf(task(name)), 's3:PutObject');
  const getResources = (name: string) => resourcesFor(statementsOf(task(name)), 's3:GetObject');

  it('let apply and rollback write the runtime desired state, and nothing else in S3', () => {
    for (const name of ['apply', 'rollback']) {
      expect(putResources(name), name).toEqual([expect.stringContaining(`/${RUNTIME_PREFIX}*"`)]);
      expect(getResources(name), name).toEqual([]);
    }
  });

  it('give the daemon key only to the tasks that call a Dify plugin daemon, through Secrets Manager', () => {
    for (const name of ['acquire', 'snapshot', 'apply', 'probe', 'rollback']) {
      const environment = environmentOf(task(name));
      expect(JSON.stringify(environment.PLUGINOPS_SECRET_ARNS), name).toContain('PLUGINOPS_DIFY_DAEMON_KEY');
      expect(environment.PLUGINOPS_DIFY_DAEMON_KEY, name).toBeUndefined();
      expect(environment.PLUGINOPS_RUNTIME, name).toBe('plugin-host');
    }
    for (const name of ['resolve', 'verify', 'release', 'alert']) {
      expect(JSON.stringify(environmentOf(task(name)).PLUGINOPS_SECRET_ARNS ?? ''), name).not.toContain(
        'PLUGINOPS_DIFY_DAEMON_KEY',
      );
    }
  });

  it('let resolve and acquire publish fetched dependencies; acquire also writes the desired state', () => {
    const bucket = JSON.stringify({ 'Fn::GetAtt': [logicalId(dev.stack.storage.bucket), 'Arn'] });
    for (const name of ['resolve', 'acquire']) {
      expect(getResources(name), name).toEqual([expect.stringContaining('/packages/*"')]);
      expect(putResources(name), name).toEqual(
        expect.arrayContaining([expect.stringContaining('/packages/*"')]),
      );
      expect(resourcesFor(statementsOf(task(name)), 's3:ListBucket'), name).toEqual([bucket]);
      const secrets = JSON.stringify(environmentOf(task(name)).PLUGINOPS_SECRET_ARNS);
      expect(secrets, name).toContain('PLUGINOPS_GITHUB_TOKEN');
      expect(secrets, name).toContain('PLUGINOPS_MARKETPLACE_TOKEN');
    }
    expect(putResources('resolve')).toHaveLength(1);
    expect(putResources('acquire')).toEqual(
      expect.arrayContaining([expect.stringContaining(`/${RUNTIME_PREFIX}*"`)]),
    );
    expect(putResources('acquire')).toHaveLength(2);
  });

  it('let verify read packages/ and write nothing in S3', () => {
    expect(getResources('verify')).toEqual([expect.stringContaining('/packages/*"')]);
    expect(putResources('verify')).toEqual([]);
    expect(actionsOf(statementsOf(task('verify'))).filter((a) => a.startsWith('s3:'))).toEqual([
      's3:GetObject',
    ]);
  });

  it('let snapshot write only backups/', () => {
    expect(putResources('snapshot')).toEqual([expect.stringContaining('/backups/*"')]);
    expect(getResources('snapshot')).toEqual([]);
  });

  it('give no other task any S3 access', () => {
    const withObjects = new Set(['resolve', 'apply', 'rollback', 'acquire', 'verify', 'snapshot']);
    for (const [name, fn] of Object.entries(dev.stack.workflows.taskFunctions)) {
      if (withObjects.has(name)) continue;
      expect(
        actionsOf(statementsOf(fn)).filter((action) => action.startsWith('s3:')),
        name,
      ).toEqual([]);
    }
  });

  it('give the probing tasks the stage plugin host URL', () => {
    for (const name of ['probe', 'rollback']) {
      expect(environmentOf(task(name)).PLUGINOPS_RUNTIME_URL, name).toBe(placeholderRuntimeUrl('dev'));
    }
    expect(environmentOf(task('apply'))).not.toHaveProperty('PLUGINOPS_RUNTIME_URL');
  });

  it('let no task put events on the bus: events are outbox items, only the relay delivers them', () => {
    for (const [name, fn] of Object.entries(dev.stack.workflows.taskFunctions)) {
      expect(actionsOf(statementsOf(fn)), name).not.toContain('events:PutEvents');
    }
    for (const fn of Object.values(dev.stack.api.functions)) {
      expect(actionsOf(statementsOf(fn))).not.toContain('events:PutEvents');
    }
    expect(actionsOf(statementsOf(dev.stack.events.dropFunction))).not.toContain('events:PutEvents');
    const bus = { 'Fn::GetAtt': [logicalId(dev.stack.events.bus), 'Arn'] };
    expect(resourcesFor(statementsOf(dev.stack.events.outboxRelay), 'events:PutEvents')).toEqual([
      JSON.stringify(bus),
    ]);
  });

  it('never get the idempotency table, Scan or BatchWriteItem', () => {
    const idempotency = logicalId(dev.stack.storage.idempotencyTable);
    for (const [name, fn] of Object.entries(dev.stack.workflows.taskFunctions)) {
      const statements = statementsOf(fn);
      expect(JSON.stringify(statements), name).not.toContain(idempotency);
      expect(actionsOf(statements), name).not.toContain('dynamodb:Scan');
      expect(actionsOf(statements), name).not.toContain('dynamodb:BatchWriteItem');
    }
  });

  it('stop before the state that invokes them times out', () => {
    const timeouts = taskTimeoutsOf(DEPLOY_ASL);
    expect(Object.keys(timeouts)).toEqual(expect.arrayContaining(['resolve', 'verify', 'apply', 'rollback']));
    expect(timeouts).not.toHaveProperty('await-approval');
    for (const [name, seconds] of Object.entries(timeouts)) {
      const lambda = resources[logicalId(task(name).function)]?.Properties.Timeout;
      expect(lambda, name).toBe(seconds - TASK_TIMEOUT_MARGIN_SECONDS);
    }
  });
});

describe('deploy state machine', () => {
  it('keeps every state of statemachines/deploy.asl.json', () => {
    const definition = JSON.parse(deployedDefinition('deploy')) as {
      States: Record<string, unknown>;
    };
    const fromFile = JSON.parse(DEPLOY_ASL) as { States: Record<string, unknown> };
    expect(Object.keys(fromFile.States)).toEqual(expect.arrayContaining(DEPLOY_STATES));
    expect(Object.keys(definition.States).sort()).toEqual(Object.keys(fromFile.States).sort());
  });

  it('fills every placeholder substitution with a value', () => {
    const { DefinitionSubstitutions } = machineResource('deploy').Properties;
    const used = placeholdersOf(deployedDefinition('deploy'));
    expect(used.length).toBeGreaterThanOrEqual(10);
    expect(Object.keys(DefinitionSubstitutions).sort()).toEqual(used);
    for (const name of used) expect(DefinitionSubstitutions[name], name).toBeTruthy();
    expect(DefinitionSubstitutions.AwaitApprovalFunctionArn).toEqual({
      'Fn::GetAtt': [logicalId(task('await-approval').function), 'Arn'],
    });
  });

  it('may invoke every task function it names, including the waitForTaskToken one', () => {
    const { DefinitionSubstitutions, RoleArn } = machineResource('deploy').Properties;
    const role = dev.stack.node.findChild('Workflows').node.findChild('deploy-role');
    expect(RoleArn['Fn::GetAtt'][0]).toBe(logicalId(role as never));
    const invokable = resourcesFor(
      roleStatements(dev.stack, dev.template, role.node.defaultChild as CfnRole),
      'lambda:InvokeFunction',
    );
    const functionArns = Object.entries(DefinitionSubstitutions).filter(([name]) =>
      name.endsWith('FunctionArn'),
    );
    expect(functionArns.length).toBe(11);
    for (const [name, arn] of functionArns) {
      expect(invokable, name).toContain(JSON.stringify(arn));
    }
  });

  it('runs as a standard state machine with X-Ray, logs and the ASL timeout', () => {
    dev.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'pluginops-dev-deploy',
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
    expect((JSON.parse(DEPLOY_ASL) as { TimeoutSeconds?: number }).TimeoutSeconds).toBeGreaterThan(0);
  });

  it('alarms on failed deploys and on sweep errors', () => {
    const deployId = logicalId(dev.stack.workflows.stateMachines.deploy as never);
    const sweepId = logicalId(dev.stack.workflows.stateMachines.sweep as never);
    for (const [alarmName, machineId] of [
      ['pluginops-dev-failed-deploys', deployId],
      ['pluginops-dev-sweep-errors', sweepId],
    ] as const) {
      dev.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: alarmName,
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: 'failed + timedOut + aborted' }),
          Match.objectLike({
            MetricStat: Match.objectLike({
              Metric: Match.objectLike({
                MetricName: 'ExecutionsFailed',
                Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: machineId } }],
              }),
            }),
          }),
        ]),
        AlarmActions: [{ Ref: logicalId(dev.stack.alarms.topic) }],
      });
    }
  });
});

describe('conventions shared with the functions', () => {
  it('names the state machine ARN variables as functions/adapters/workflow.ts reads them', () => {
    for (const machine of ['deploy', 'sweep']) {
      expect(stateMachineArnVariable(machine)).toBe(adapterArnVariable(machine));
    }
  });

  it('generates config keys that deploy-config.ts accepts (32 bytes, base64)', () => {
    const { passwordLength, excludePunctuation } = CONFIG_KEY_GENERATION;
    expect(excludePunctuation).toBe(true);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    const generated = Array.from(
      { length: passwordLength ?? 0 },
      (_, index) => alphabet[(index * 37 + 11) % alphabet.length],
    ).join('');
    // The decoding configSealingKey() applies to PLUGINOPS_CONFIG_KEY (it reads the environment
    // once per process, so the test calls the decoder rather than setting the variable).
    expect(decodeConfigKey(generated)).toHaveLength(32);
    expect(() => decodeConfigKey(generated.slice(0, 40))).toThrow(/32 bytes/);
    dev.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'pluginops-dev/config-key',
      GenerateSecretString: Match.objectLike({ PasswordLength: passwordLength, ExcludePunctuation: true }),
    });
  });
});

describe('cdk-nag', () => {
  it('leaves no open AwsSolutions finding with the real workflows', () => {
    const report = new AwsSolutionsChecks().validateScope(dev.stack);
    expect(
      report.violations.map(
        (violation) => `${violation.ruleName} ${violation.violatingResources[0]?.constructPath}`,
      ),
    ).toEqual([]);
  });
});
