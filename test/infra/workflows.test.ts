import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeSecrets } from '../../infra/constructs/secrets.ts';
import {
  pascalToKebab,
  placeholdersOf,
  taskLambdaTimeout,
  taskTimeoutsOf,
  Workflows,
} from '../../infra/constructs/workflows.ts';
import { resolveStageConfig } from '../../infra/stages.ts';
import { fixtureDir, type SynthesizedStage, synthStages, TEST_APP_PROPS, writeJson } from './synth.ts';

/** `${Name}` as it appears in ASL (a plain string, not a template). */
function placeholder(name: string): string {
  return `\${${name}}`;
}

/** Tiny ASL fixtures in the shape the real files will have: sweep starts deploy, deploy runs a task. */
const DEPLOY_ASL = {
  Comment: 'test fixture',
  StartAt: 'Resolve',
  States: {
    Resolve: {
      Type: 'Task',
      Comment: 'Resolve the plan',
      Resource: placeholder('ResolvePlanFunctionArn'),
      End: true,
    },
  },
};
const SWEEP_ASL = {
  Comment: 'test fixture',
  StartAt: 'StartDeploy',
  States: {
    StartDeploy: {
      Type: 'Task',
      Comment: 'Start one deploy',
      Resource: 'arn:aws:states:::states:startExecution',
      Parameters: { StateMachineArn: placeholder('DeployStateMachineArn'), 'Input.$': '$' },
      Next: 'Announce',
    },
    Announce: {
      Type: 'Task',
      Comment: 'Emit a summary event',
      Resource: 'arn:aws:states:::events:putEvents',
      Parameters: {
        Entries: [
          { EventBusName: placeholder('EventBusName'), Source: 'pluginops', DetailType: 'x', Detail: {} },
        ],
      },
      End: true,
    },
  },
};

let fixtures: ReturnType<typeof fixtureDir>;
let dev: SynthesizedStage;

beforeAll(() => {
  fixtures = fixtureDir();
  writeJson(join(fixtures.path, 'deploy.asl.json'), DEPLOY_ASL);
  writeJson(join(fixtures.path, 'sweep.asl.json'), SWEEP_ASL);
  writeFileSync(
    join(fixtures.path, 'resolve-plan.ts'),
    'export const handler = async () => ({ ok: true });\n',
  );
  ({ dev } = synthStages(
    ['dev'],
    { statemachinesDir: fixtures.path, tasksDir: fixtures.path },
    { bundle: false },
  ));
});

afterAll(() => fixtures.remove());

function sweepMachine() {
  const machine = dev.stack.workflows.stateMachines.sweep;
  if (machine === undefined) throw new Error('no sweep state machine');
  return machine;
}

function logicalId(construct: { node: { defaultChild?: unknown } }): string {
  return dev.stack.getLogicalId(construct.node.defaultChild as never);
}

describe('workflows', () => {
  it('creates one state machine per ASL file, named by stage', () => {
    dev.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'pluginops-dev-deploy',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
    dev.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'pluginops-dev-sweep',
    });
  });

  it('substitutes <Task>FunctionArn placeholders with the task function for functions/tasks/<task>.ts', () => {
    const task = dev.stack.workflows.taskFunctions['resolve-plan'];
    expect(task).toBeDefined();
    dev.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'pluginops-dev-deploy',
      DefinitionSubstitutions: {
        ResolvePlanFunctionArn: { 'Fn::GetAtt': [logicalId(task?.function as never), 'Arn'] },
      },
    });
    dev.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'pluginops-dev-task-resolve-plan',
      Runtime: 'nodejs22.x',
    });
  });

  it('substitutes <Name>StateMachineArn and EventBusName placeholders and lets the sweep start deploys', () => {
    const template = dev.template.toJSON();
    const sweepId = logicalId(sweepMachine());
    const substitutions = template.Resources[sweepId].Properties.DefinitionSubstitutions;
    expect(JSON.stringify(substitutions.DeployStateMachineArn)).toContain(
      ':stateMachine:pluginops-dev-deploy',
    );
    expect(substitutions.EventBusName).toEqual({ Ref: logicalId(dev.stack.events.bus) });
    dev.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'states:StartExecution',
            Resource: substitutions.DeployStateMachineArn,
          }),
        ]),
      },
    });
  });

  it('alarms on failed deploy and sweep executions', () => {
    for (const name of ['pluginops-dev-failed-deploys', 'pluginops-dev-sweep-errors']) {
      dev.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: name,
        Metrics: Match.arrayWith([Match.objectLike({ Expression: 'failed + timedOut + aborted' })]),
        AlarmActions: [{ Ref: logicalId(dev.stack.alarms.topic) }],
      });
    }
  });
});

describe('schedule', () => {
  it('starts the sweep state machine at rate(15 minutes)', () => {
    dev.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(15 minutes)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { Ref: logicalId(sweepMachine()) } })],
    });
  });

  it('is not created without sweep.asl.json, and no ASL means no state machines', () => {
    const dir = fixtureDir();
    try {
      const workflows = bareWorkflows(dir.path);
      expect(workflows.stateMachines).toEqual({});
      Template.fromStack(Stack.of(workflows)).resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    } finally {
      dir.remove();
    }
  });
});

describe('cdk-nag', () => {
  it('leaves no open AwsSolutions finding on the workflow resources', () => {
    const report = new AwsSolutionsChecks().validateScope(dev.stack);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
  });
});

describe('substitution convention', () => {
  it('maps PascalCase names to kebab-case files', () => {
    expect(pascalToKebab('Resolve')).toBe('resolve');
    expect(pascalToKebab('AcquireLock')).toBe('acquire-lock');
    expect(pascalToKebab('ResolvePlan')).toBe('resolve-plan');
  });

  it('finds the smallest state timeout per task, nested states included, waitForTaskToken excluded', () => {
    const asl = {
      StartAt: 'A',
      States: {
        A: { Type: 'Task', Resource: placeholder('ApplyFunctionArn'), TimeoutSeconds: 120, Next: 'B' },
        B: {
          Type: 'Map',
          ItemProcessor: {
            States: {
              C: { Type: 'Task', Resource: placeholder('ApplyFunctionArn'), TimeoutSeconds: 60, End: true },
            },
          },
          Next: 'D',
        },
        D: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: placeholder('ProbeFunctionArn') },
          TimeoutSeconds: 30,
          Next: 'E',
        },
        E: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          Parameters: { FunctionName: placeholder('AwaitApprovalFunctionArn') },
          TimeoutSecondsPath: '$.timeout',
          End: true,
        },
      },
    };
    expect(taskTimeoutsOf(JSON.stringify(asl))).toEqual({ apply: 60, probe: 30 });
    expect(taskLambdaTimeout(60).toSeconds()).toBe(55);
    expect(taskLambdaTimeout(undefined).toMinutes()).toBe(5);
    expect(() => taskLambdaTimeout(12)).toThrow(/raise TimeoutSeconds/);
  });

  it('finds every placeholder once', () => {
    expect(placeholdersOf(JSON.stringify(SWEEP_ASL))).toEqual(['DeployStateMachineArn', 'EventBusName']);
  });

  it('fails the synth on an unknown placeholder or a missing task file', () => {
    const dir = fixtureDir();
    try {
      writeJson(join(dir.path, 'deploy.asl.json'), {
        StartAt: 'A',
        States: { A: { Type: 'Pass', Result: placeholder('Nope'), End: true } },
      });
      expect(() => bareWorkflows(dir.path)).toThrow(/unknown substitution \$\{Nope\}/);
      writeJson(join(dir.path, 'deploy.asl.json'), {
        StartAt: 'A',
        States: { A: { Type: 'Task', Resource: placeholder('MissingFunctionArn'), End: true } },
      });
      expect(() => bareWorkflows(dir.path)).toThrow(/missing\.ts does not exist/);
    } finally {
      dir.remove();
    }
  });
});

function bareWorkflows(statemachinesDir: string): Workflows {
  const stack = new Stack(new App(TEST_APP_PROPS), 'bare');
  const stage = resolveStageConfig('dev');
  const key = new kms.Key(stack, 'Key');
  return new Workflows(stack, 'Workflows', {
    stage,
    environment: {},
    key,
    mainTable: new dynamodb.Table(stack, 'Table', {
      partitionKey: { name: 'PK', type: dynamodb.AttributeType.STRING },
    }),
    bucket: new s3.Bucket(stack, 'Bucket'),
    bus: new events.EventBus(stack, 'Bus'),
    secrets: new RuntimeSecrets(stack, 'Secrets', { stage, key }).byName,
    statemachinesDir,
    tasksDir: statemachinesDir,
  });
}
