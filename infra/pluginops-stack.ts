/**
 * One stage of pluginops: everything the stage needs and nothing shared with another stage (own
 * key, tables, bucket, secrets, bus, functions, state machines, alarms). Every physical name starts
 * with `pluginops-<stage>`; unnamed resources get CloudFormation names under the stack's name,
 * which contains the stage as well.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct, IConstruct } from 'constructs';
import { ENV } from '#config/names.ts';
import { CONSOLE_DIST } from '../local/console-paths.ts';
import { Alarms } from './constructs/alarms.ts';
import { Api } from './constructs/api.ts';
import { Console } from './constructs/console.ts';
import { Events } from './constructs/events.ts';
import {
  acknowledgeMatchingFindings,
  NAG_REASONS,
  STACK_FINDING_PATTERNS,
  suppress,
} from './constructs/nag.ts';
import { Schedule } from './constructs/schedule.ts';
import { RuntimeSecrets } from './constructs/secrets.ts';
import { Storage } from './constructs/storage.ts';
import { grantStartExecution, Workflows } from './constructs/workflows.ts';
import { IDEMPOTENCY_TABLE, MAIN_TABLE, physicalTableName } from './definitions/tables.ts';
import { type StageConfig, stackName } from './stages.ts';

export interface PluginopsStackProps extends StackProps {
  stage: StageConfig;
  /** Overrides for tests: where ASL files and task handlers are read from. */
  statemachinesDir?: string;
  tasksDir?: string;
  /** The built web console (default console/dist). */
  consoleDir?: string;
}

/** Singleton custom-resource providers CDK adds to the stack (bucket notifications, auto-delete, console upload). */
const CDK_PROVIDER_IDS = [
  /^BucketNotificationsHandler/,
  /^Custom::S3AutoDeleteObjectsCustomResourceProvider$/,
  /^Custom::CDKBucketDeployment/,
];

export class PluginopsStack extends Stack {
  readonly stage: StageConfig;
  readonly storage: Storage;
  readonly events: Events;
  readonly api: Api;
  readonly workflows: Workflows;
  readonly schedule: Schedule | undefined;
  readonly alarms: Alarms;

  constructor(scope: Construct, id: string, props: PluginopsStackProps) {
    const { stage } = props;
    super(scope, id, {
      ...props,
      stackName: stackName(stage.name),
      description: `pluginops control plane, stage ${stage.name}`,
      ...(stage.account !== undefined || stage.region !== undefined
        ? {
            env: {
              ...(stage.account ? { account: stage.account } : {}),
              ...(stage.region ? { region: stage.region } : {}),
            },
          }
        : {}),
      tags: { project: 'pluginops', stage: stage.name, ...props.tags },
    });
    this.stage = stage;

    this.storage = new Storage(this, 'Storage', { stage });
    const secrets = new RuntimeSecrets(this, 'Secrets', { stage, key: this.storage.key });
    const data = {
      key: this.storage.key,
      mainTable: this.storage.mainTable,
      bucket: this.storage.bucket,
    };
    // Names only: secrets go through `PLUGINOPS_SECRET_ARNS` (see infra/runtime/load-secrets.ts).
    const environment: Record<string, string> = {
      [ENV.mainTable]: physicalTableName(stage.name, MAIN_TABLE),
      [ENV.idempotencyTable]: physicalTableName(stage.name, IDEMPOTENCY_TABLE),
      [ENV.bucket]: this.storage.bucket.bucketName,
      [ENV.githubApiUrl]: stage.githubApiUrl,
      [ENV.marketplaceUrl]: stage.marketplaceUrl,
      [ENV.platformVersion]: stage.platformVersion,
      [ENV.approvalRequired]: String(stage.approvalRequired),
      [ENV.canaryFirstWavePercent]: String(stage.canary.firstWavePercent),
      [ENV.canaryHaltFailurePercent]: String(stage.canary.haltFailurePercent),
      [ENV.runtime]: stage.runtime,
      ...(stage.difyDaemonUrl === undefined ? {} : { [ENV.difyDaemonUrl]: stage.difyDaemonUrl }),
    };

    this.events = new Events(this, 'Events', { stage, environment, ...data });
    const withBus = { ...environment, [ENV.eventBus]: this.events.bus.eventBusName };
    // Before the API: the API's groups may start only state machines the stage has.
    this.workflows = new Workflows(this, 'Workflows', {
      stage,
      environment: withBus,
      ...data,
      bus: this.events.bus,
      secrets: secrets.byName,
      ...(props.statemachinesDir ? { statemachinesDir: props.statemachinesDir } : {}),
      ...(props.tasksDir ? { tasksDir: props.tasksDir } : {}),
    });
    this.api = new Api(this, 'Api', {
      stage,
      environment: withBus,
      ...data,
      idempotencyTable: this.storage.idempotencyTable,
      bus: this.events.bus,
      secrets: secrets.byName,
      stateMachines: this.workflows.machineNames,
    });
    // A package dropped under drop/tenants/<t>/ is deployed to that tenant (deployDroppedPackage).
    if (this.workflows.machineNames.has('deploy')) {
      grantStartExecution(this.events.dropFunction, stage, 'deploy');
    }
    const sweep = this.workflows.stateMachines.sweep;
    this.schedule = sweep === undefined ? undefined : new Schedule(this, 'Schedule', { stage, sweep });
    this.alarms = new Alarms(this, 'Alarms', {
      stage,
      key: this.storage.key,
      bus: this.events.bus,
      functions: [
        ...Object.values(this.api.functions),
        this.events.dropFunction,
        this.events.outboxRelay,
        ...(this.workflows.recovery === undefined ? [] : [this.workflows.recovery]),
        ...Object.values(this.workflows.taskFunctions),
      ],
      dropDeadLetterQueue: this.events.dropDeadLetterQueue,
      outboxDeadLetterQueue: this.events.outboxDeadLetterQueue,
      deployStateMachine: this.workflows.stateMachines.deploy,
      sweepStateMachine: sweep,
    });

    // The web console (S3 + CloudFront, /v1/* to the API): docs/decisions/006-web-console.md.
    const webConsole = new Console(this, 'Console', {
      stage,
      httpApi: this.api.httpApi,
      packageBucket: this.storage.bucket,
      accessLogBucket: this.storage.accessLogBucket,
      assetsDir: props.consoleDir ?? CONSOLE_DIST,
    });
    new CfnOutput(this, 'ConsoleUrl', {
      value: webConsole.url,
      description: 'Web console (and API under /v1/)',
    });
    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'BucketName', {
      value: this.storage.bucket.bucketName,
      description: 'Package bucket',
    });
    new CfnOutput(this, 'EventBusName', {
      value: this.events.bus.eventBusName,
      description: 'Domain event bus',
    });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alarms.topic.topicArn, description: 'Alert topic' });
    new CfnOutput(this, 'CursorSecretArn', {
      value: secrets.cursorSecret.secretArn,
      description: 'Cursor HMAC secret',
    });
    new CfnOutput(this, 'GithubTokenSecretArn', {
      value: secrets.githubToken.secretArn,
      description: 'GitHub token',
    });
    new CfnOutput(this, 'MarketplaceTokenSecretArn', {
      value: secrets.marketplaceToken.secretArn,
      description: 'Marketplace token',
    });
    new CfnOutput(this, 'ConfigKeySecretArn', {
      value: secrets.configKey.secretArn,
      description: 'Sealing key of tenant plugin config',
    });

    this.suppressCdkProviders();
    acknowledgeMatchingFindings(this, STACK_FINDING_PATTERNS);
  }

  private suppressCdkProviders(): void {
    const providers: IConstruct[] = this.node.children.filter((child) =>
      CDK_PROVIDER_IDS.some((pattern) => pattern.test(child.node.id)),
    );
    for (const provider of providers) {
      suppress(provider, [
        {
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason: NAG_REASONS.cdkCustomResource,
        },
        { id: 'AwsSolutions-IAM5[Resource::*]', reason: NAG_REASONS.cdkCustomResource },
        { id: 'AwsSolutions-L1', reason: NAG_REASONS.cdkCustomResource },
      ]);
    }
  }
}
