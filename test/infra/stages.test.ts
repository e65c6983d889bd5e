import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  placeholderRuntimeUrl,
  resolveStageConfig,
  STAGE_NAMES,
  type StageName,
} from '../../infra/stages.ts';
import { type SynthesizedStage, synthStages } from './synth.ts';

let stages: Record<StageName, SynthesizedStage>;

beforeAll(() => {
  // Template assertions only: `npm run synth` (in .ci/run) bundles every function of every stage.
  stages = synthStages(STAGE_NAMES, {}, { bundle: false });
});

/** Properties that set a physical name, per resource type. */
const NAME_PROPERTIES: Record<string, string> = {
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::Events::EventBus': 'Name',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::KMS::Alias': 'AliasName',
  'AWS::ApiGatewayV2::Api': 'Name',
  'AWS::CloudWatch::Alarm': 'AlarmName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
};

function physicalNames(stage: SynthesizedStage): string[] {
  const resources = stage.template.toJSON().Resources as Record<
    string,
    { Type: string; Properties?: Record<string, unknown> }
  >;
  return Object.values(resources).flatMap((resource) => {
    const property = NAME_PROPERTIES[resource.Type];
    const value = property === undefined ? undefined : resource.Properties?.[property];
    return value === undefined ? [] : [typeof value === 'string' ? value : JSON.stringify(value)];
  });
}

describe('stage isolation', () => {
  it('gives every named resource a name that contains its stage', () => {
    for (const name of STAGE_NAMES) {
      const names = physicalNames(stages[name]);
      expect(names.length).toBeGreaterThan(20);
      for (const physical of names) expect(physical).toContain(`pluginops-${name}`);
    }
  });

  it('shares no physical name between dev, staging and prod', () => {
    const seen = new Map<string, StageName>();
    for (const name of STAGE_NAMES) {
      for (const physical of physicalNames(stages[name])) {
        expect(
          seen.get(physical),
          `${physical} is used by ${seen.get(physical)} and ${name}`,
        ).toBeUndefined();
        seen.set(physical, name);
      }
    }
  });

  it('names one stack per stage', () => {
    expect(STAGE_NAMES.map((name) => stages[name].stack.stackName)).toEqual([
      'pluginops-dev',
      'pluginops-staging',
      'pluginops-prod',
    ]);
  });

  it('exports the API URL, bucket, bus and alert topic', () => {
    const outputs = stages.dev.template.toJSON().Outputs as Record<string, unknown>;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(['ApiUrl', 'BucketName', 'EventBusName', 'AlertTopicArn']),
    );
  });
});

describe('cdk-nag AwsSolutions', () => {
  it.each(STAGE_NAMES)('reports no open finding for %s', (name) => {
    const report = new AwsSolutionsChecks().validateScope(stages[name].stack);
    expect(
      report.violations.map(
        (violation) => `${violation.ruleName} ${violation.violatingResources[0]?.constructPath}`,
      ),
    ).toEqual([]);
  });

  it('acknowledges every suppressed rule with a written reason', () => {
    const acknowledgments = stages.prod.stack.node
      .findAll()
      .flatMap((construct) => construct.node.metadata)
      .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>));
    expect(acknowledgments.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledgments) {
      expect(reason.length, id).toBeGreaterThan(40);
    }
  });
});

describe('CDK warnings', () => {
  // `cdk synth` prints each one for every stage; a choice made on purpose is acknowledged with why.
  it.each(STAGE_NAMES)('leaves none unacknowledged in %s', (name) => {
    const warnings = Annotations.fromStack(stages[name].stack).findWarning('*', Match.anyValue());
    expect(warnings.map((warning) => `${warning.id}: ${String(warning.entry.data)}`)).toEqual([]);
  });
});

describe('stage config', () => {
  it('requires approval by default in prod only', () => {
    expect(resolveStageConfig('prod').approvalRequired).toBe(true);
    expect(resolveStageConfig('staging').approvalRequired).toBe(false);
    expect(resolveStageConfig('dev').approvalRequired).toBe(false);
  });

  it('takes account and region from stage context, then shared context, then CDK_DEFAULT_*', () => {
    const context: Record<string, string> = {
      'pluginops:prod:account': '111111111111',
      'pluginops:region': 'eu-west-1',
    };
    const prod = resolveStageConfig('prod', (key) => context[key], { CDK_DEFAULT_ACCOUNT: '999999999999' });
    expect(prod).toMatchObject({ account: '111111111111', region: 'eu-west-1' });
    const dev = resolveStageConfig('dev', (key) => context[key], { CDK_DEFAULT_ACCOUNT: '999999999999' });
    expect(dev).toMatchObject({ account: '999999999999', region: 'eu-west-1' });
    expect(resolveStageConfig('dev', () => undefined, {})).toMatchObject({
      account: undefined,
      region: undefined,
    });
  });

  it('takes the plugin host URL from pluginops:<stage>:runtimeUrl, else a placeholder that never resolves', () => {
    const context: Record<string, string> = { 'pluginops:prod:runtimeUrl': 'https://plugins.example.com/' };
    expect(resolveStageConfig('prod', (key) => context[key]).runtimeUrl).toBe('https://plugins.example.com');
    expect(resolveStageConfig('dev', (key) => context[key]).runtimeUrl).toBe(placeholderRuntimeUrl('dev'));
    expect(new URL(placeholderRuntimeUrl('dev')).hostname).toMatch(/\.invalid$/);
    expect(() => resolveStageConfig('dev', () => 'ftp://plugins')).toThrow(/pluginops:dev:runtimeUrl/);
    expect(() =>
      resolveStageConfig('dev', (key) => (key.endsWith('runtimeUrl') ? 'not a url' : undefined)),
    ).toThrow(/http\(s\) URL/);
  });

  it('selects the Dify plugin daemon runtime from context, and requires its URL then', () => {
    expect(resolveStageConfig('dev', () => undefined)).toMatchObject({
      runtime: 'plugin-host',
      difyDaemonUrl: undefined,
    });
    const context: Record<string, string> = {
      'pluginops:prod:runtime': 'dify-daemon',
      'pluginops:prod:difyDaemonUrl': 'https://plugin-daemon.internal.example.com/',
    };
    expect(resolveStageConfig('prod', (key) => context[key])).toMatchObject({
      runtime: 'dify-daemon',
      difyDaemonUrl: 'https://plugin-daemon.internal.example.com',
    });
    expect(() =>
      resolveStageConfig('prod', (key) => (key === 'pluginops:prod:runtime' ? 'dify-daemon' : undefined)),
    ).toThrow(/pluginops:prod:difyDaemonUrl is required/);
    expect(() =>
      resolveStageConfig('prod', (key) => (key === 'pluginops:prod:runtime' ? 'kubernetes' : undefined)),
    ).toThrow(/plugin-host or dify-daemon/);
  });

  it('retains data only in prod', () => {
    expect(STAGE_NAMES.map((name) => resolveStageConfig(name).retainData)).toEqual([false, false, true]);
  });
});
