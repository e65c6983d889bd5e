/**
 * Events of one stage: the custom bus `pluginops-<stage>` for domain events, and the drop folder.
 * S3 sends "Object Created" to the account's *default* bus (S3 EventBridge notifications always
 * go there), so the drop rule lives on the default bus, matches this stage's bucket and `drop/`
 * keys, and invokes the drop function asynchronously. Events that fail every retry — delivery by
 * EventBridge or the function itself — land in one dead-letter queue that an alarm watches.
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '#config/names.ts';
import { dropEntry, outboxRelayEntry } from '../lambda/entries.ts';
import type { StageConfig } from '../stages.ts';
import { grantExistenceChecks, grantObjects, grantTable } from './access.ts';
import { NAG_REASONS, suppress } from './nag.ts';
import { PluginopsFunction } from './pluginops-function.ts';
import { BUCKET_PREFIXES } from './storage.ts';

export interface EventsProps {
  stage: StageConfig;
  /** Environment shared by every function (the bus name is added here). */
  environment: Record<string, string>;
  key: kms.IKey;
  mainTable: dynamodb.ITable;
  bucket: s3.IBucket;
}

export class Events extends Construct {
  readonly bus: events.EventBus;
  readonly dropFunction: PluginopsFunction;
  readonly dropDeadLetterQueue: sqs.Queue;
  readonly dropRule: events.Rule;
  readonly outboxRelay: PluginopsFunction;
  readonly outboxDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventsProps) {
    super(scope, id);
    const { stage } = props;

    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: stage.resourcePrefix,
      description: `pluginops domain events (${stage.name})`,
    });

    this.dropDeadLetterQueue = new sqs.Queue(this, 'DropDeadLetters', {
      queueName: `${stage.resourcePrefix}-drop-dlq`,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    suppress(this.dropDeadLetterQueue, [{ id: 'AwsSolutions-SQS3', reason: NAG_REASONS.dropDlq }]);

    this.dropFunction = new PluginopsFunction(this, 'DropFunction', {
      stage,
      entry: dropEntry(),
      description: 'pluginops drop folder: publishes packages copied under drop/',
      environment: { ...props.environment, [ENV.eventBus]: this.bus.eventBusName },
      // Downloading, hashing and storing a 50 MB package.
      timeout: Duration.minutes(5),
      memorySize: 1024,
      deadLetterQueue: this.dropDeadLetterQueue,
      retryAttempts: 2,
    });
    const role = this.dropFunction.role;
    grantTable(role, props.mainTable, props.key, 'read-write');
    grantObjects(role, props.bucket, props.key, BUCKET_PREFIXES.drop, 'read');
    grantObjects(role, props.bucket, props.key, BUCKET_PREFIXES.dropResults, 'write');
    grantObjects(role, props.bucket, props.key, BUCKET_PREFIXES.packages, 'read-write');
    grantExistenceChecks(role, props.bucket);

    this.dropRule = new events.Rule(this, 'DropObjectCreated', {
      description: `pluginops ${stage.name}: S3 Object Created under drop/ → drop function`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.bucket.bucketName] },
          object: { key: events.Match.prefix(BUCKET_PREFIXES.drop) },
        },
      },
      targets: [
        new targets.LambdaFunction(this.dropFunction.function, {
          deadLetterQueue: this.dropDeadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });

    // The outbox: every event item written to the main table is delivered from its stream to the
    // bus. A failed record is retried from there (reportBatchItemFailures); one that fails every
    // attempt goes to the outbox DLQ (an alarm watches it), never silently away.
    this.outboxDeadLetterQueue = new sqs.Queue(this, 'OutboxDeadLetters', {
      queueName: `${stage.resourcePrefix}-outbox-dlq`,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    suppress(this.outboxDeadLetterQueue, [{ id: 'AwsSolutions-SQS3', reason: NAG_REASONS.outboxDlq }]);
    this.outboxRelay = new PluginopsFunction(this, 'OutboxRelayFunction', {
      stage,
      entry: outboxRelayEntry(),
      description: 'pluginops outbox relay: main table stream (event items) → the stage bus',
      environment: { ...props.environment, [ENV.eventBus]: this.bus.eventBusName },
      timeout: Duration.minutes(1),
      memorySize: 256,
    });
    this.bus.grantPutEventsTo(this.outboxRelay.role);
    props.mainTable.grantStreamRead(this.outboxRelay.role);
    suppress(this.outboxRelay.role, [
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: NAG_REASONS.streamList },
    ]);
    props.key.grantDecrypt(this.outboxRelay.role);
    this.outboxRelay.function.addEventSource(
      new DynamoEventSource(props.mainTable, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: 1000,
        onFailure: new SqsDlq(this.outboxDeadLetterQueue),
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('INSERT'),
            dynamodb: { NewImage: { type: { S: lambda.FilterRule.isEqual('event') } } },
          }),
        ],
      }),
    );
  }
}
