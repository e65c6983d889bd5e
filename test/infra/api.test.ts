import { Match } from 'aws-cdk-lib/assertions';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, type RouteGroup, routeKey } from '#api/routes.ts';
import type { PluginopsFunction } from '../../infra/constructs/pluginops-function.ts';
import { STAGE_DEFAULTS } from '../../infra/stages.ts';
import { actionsOf, resourcesFor, roleStatements, type SynthesizedStage, synthStages } from './synth.ts';

let dev: SynthesizedStage;

beforeAll(() => {
  ({ dev } = synthStages(['dev'], {}, { bundle: false }));
});

function logicalId(construct: { node: { defaultChild?: unknown } }): string {
  return dev.stack.getLogicalId(construct.node.defaultChild as never);
}

function statementsOf(fn: PluginopsFunction) {
  return roleStatements(dev.stack, dev.template, fn.role.node.defaultChild as CfnRole);
}

function groupFunction(group: RouteGroup): PluginopsFunction {
  return dev.stack.api.functions[group];
}

describe('HTTP API', () => {
  it.each(ROUTES.map((route) => [routeKey(route), route.group] as const))(
    'routes %s to the %s function',
    (key, group) => {
      const routes = dev.template.findResources('AWS::ApiGatewayV2::Route', {
        Properties: { RouteKey: key },
      });
      const entries = Object.values(routes);
      expect(entries).toHaveLength(1);
      const target = (entries[0] as { Properties: { Target: { 'Fn::Join': [string, unknown[]] } } })
        .Properties.Target;
      const integrationId = (target['Fn::Join'][1][1] as { Ref: string }).Ref;
      const integration = dev.template.toJSON().Resources[integrationId];
      expect(integration.Properties).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [logicalId(groupFunction(group).function), 'Arn'] },
      });
    },
  );

  it('has no routes beyond the route table', () => {
    const keys = Object.values(dev.template.findResources('AWS::ApiGatewayV2::Route')).map(
      (route) => (route as { Properties: { RouteKey: string } }).Properties.RouteKey,
    );
    expect(keys.sort()).toEqual(ROUTES.map(routeKey).sort());
  });

  it('throttles the default stage and writes access logs to its log group', () => {
    dev.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: STAGE_DEFAULTS.dev.apiThrottle.rateLimit,
        ThrottlingBurstLimit: STAGE_DEFAULTS.dev.apiThrottle.burstLimit,
      },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ApiAccessLogs'), 'Arn'] },
        Format: Match.stringLikeRegexp('\\$context.routeKey'),
      },
    });
  });
});

describe('API functions', () => {
  it('run Node.js 22 on ARM with the stage environment and Powertools settings', () => {
    for (const group of Object.keys(dev.stack.api.functions) as RouteGroup[]) {
      dev.template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: `pluginops-dev-api-${group}`,
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Environment: {
          Variables: Match.objectLike({
            POWERTOOLS_SERVICE_NAME: 'pluginops',
            PLUGINOPS_STAGE: 'dev',
            PLUGINOPS_TABLE: 'pluginops-dev-main',
            PLUGINOPS_IDEMPOTENCY_TABLE: 'pluginops-dev-idempotency',
            PLUGINOPS_BUCKET: { Ref: logicalId(dev.stack.storage.bucket) },
            PLUGINOPS_EVENT_BUS: { Ref: logicalId(dev.stack.events.bus) },
          }),
        },
      });
    }
  });

  it('never carry a secret value in the environment, only secret ARNs', () => {
    for (const fn of Object.values(dev.stack.api.functions)) {
      const variables =
        dev.template.toJSON().Resources[logicalId(fn.function)].Properties.Environment.Variables;
      expect(variables).not.toHaveProperty('PLUGINOPS_CURSOR_SECRET');
      expect(variables).not.toHaveProperty('PLUGINOPS_GITHUB_TOKEN');
      expect(variables).not.toHaveProperty('PLUGINOPS_CONFIG_KEY');
    }
    const readVariables =
      dev.template.toJSON().Resources[logicalId(groupFunction('catalog-read').function)].Properties
        .Environment.Variables;
    expect(JSON.stringify(readVariables.PLUGINOPS_SECRET_ARNS)).toContain(
      logicalId(dev.stack.node.findChild('Secrets').node.findChild('CursorSecret')),
    );
  });
});

describe('least privilege', () => {
  const writeActions = [
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
  ];

  it('gives catalog-read read-only table access and GetObject on packages/ only', () => {
    const statements = statementsOf(groupFunction('catalog-read'));
    const actions = actionsOf(statements);
    expect(actions).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchGetItem', 's3:GetObject']),
    );
    for (const action of [
      ...writeActions,
      's3:PutObject',
      's3:DeleteObject',
      'dynamodb:Scan',
      'events:PutEvents',
    ]) {
      expect(actions).not.toContain(action);
    }
    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
    expect(resourcesFor(statements, 's3:GetObject')).toEqual([expect.stringContaining('/packages/*')]);
  });

  it('gives the public group no data access at all', () => {
    const actions = actionsOf(statementsOf(groupFunction('public')));
    expect(actions).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
  });

  it('lets admin write the tables but not touch the bucket', () => {
    const actions = actionsOf(statementsOf(groupFunction('admin')));
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem']));
    expect(actions.filter((action) => action.startsWith('s3:'))).toEqual([]);
  });

  it('limits catalog-write objects to uploads/ and packages/', () => {
    const statements = statementsOf(groupFunction('catalog-write'));
    const putResources = resourcesFor(statements, 's3:PutObject');
    expect(putResources.length).toBeGreaterThan(0);
    for (const resource of putResources) expect(resource).toMatch(/\/(uploads|packages)\/\*/);
    expect(actionsOf(statements)).not.toContain('s3:DeleteObject');
  });

  it('lets the publishing functions tell a missing object from a forbidden one (ListBucket)', () => {
    const bucket = JSON.stringify({ 'Fn::GetAtt': [logicalId(dev.stack.storage.bucket), 'Arn'] });
    for (const fn of [groupFunction('catalog-write'), dev.stack.events.dropFunction]) {
      expect(resourcesFor(statementsOf(fn), 's3:ListBucket')).toEqual([bucket]);
    }
    for (const group of ['public', 'admin', 'catalog-read', 'deploy'] as const) {
      expect(actionsOf(statementsOf(groupFunction(group))), group).not.toContain('s3:ListBucket');
    }
  });

  it('lets the drop function read drop/ and write only drop-results/ and packages/', () => {
    const statements = statementsOf(dev.stack.events.dropFunction);
    const reads = resourcesFor(statements, 's3:GetObject').join(' ');
    const writes = resourcesFor(statements, 's3:PutObject');
    expect(reads).toContain('/drop/*');
    expect(writes.length).toBeGreaterThan(0);
    for (const resource of writes) expect(resource).toMatch(/\/(drop-results|packages)\/\*/);
    expect(writes.join(' ')).not.toMatch(/"\/drop\/\*/);
  });

  it('roles carry no AWS managed policies', () => {
    for (const fn of [...Object.values(dev.stack.api.functions), dev.stack.events.dropFunction]) {
      const role = dev.template.toJSON().Resources[logicalId(fn.role)];
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('without ASL files', () => {
  it('lets no function start a state machine that does not exist', () => {
    for (const fn of [...Object.values(dev.stack.api.functions), dev.stack.events.dropFunction]) {
      expect(actionsOf(statementsOf(fn))).not.toContain('states:StartExecution');
    }
  });

  it('creates no state machine and no sweep schedule', () => {
    expect(dev.stack.schedule).toBeUndefined();
    expect(dev.stack.workflows.stateMachines).toEqual({});
    dev.template.resourcePropertiesCountIs('AWS::Events::Rule', { ScheduleExpression: Match.anyValue() }, 0);
  });
});

describe('drop folder', () => {
  it('matches Object Created under drop/ of this stage bucket and targets the drop function with a DLQ', () => {
    dev.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: logicalId(dev.stack.storage.bucket) }] },
          object: { key: [{ prefix: 'drop/' }] },
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(dev.stack.events.dropFunction.function), 'Arn'] },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [logicalId(dev.stack.events.dropDeadLetterQueue), 'Arn'] },
          },
        }),
      ],
    });
    dev.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'pluginops-dev-events-drop',
      DeadLetterConfig: {
        TargetArn: { 'Fn::GetAtt': [logicalId(dev.stack.events.dropDeadLetterQueue), 'Arn'] },
      },
    });
  });

  it('alarms on the drop DLQ depth through the alert topic', () => {
    dev.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'pluginops-dev-drop-dlq-depth',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: STAGE_DEFAULTS.dev.alarms.dropDlqDepth,
      AlarmActions: [{ Ref: logicalId(dev.stack.alarms.topic) }],
    });
  });
});
