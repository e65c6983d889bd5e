/**
 * Stateful resources of one stage: its KMS key, the single table and the idempotency table (key
 * schema from `infra/definitions/tables.ts`, shared with DynamoDB Local), and the package bucket
 * (layout in `functions/adapters/s3/blob-store.ts`). Prod keeps everything on stack deletion;
 * other stages clean up after themselves.
 */
import { Aws, Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  IDEMPOTENCY_TABLE,
  type KeyAttribute,
  MAIN_TABLE,
  physicalTableName,
  type TableDefinition,
} from '../definitions/tables.ts';
import type { StageConfig } from '../stages.ts';
import { NAG_REASONS, suppress } from './nag.ts';
import { removalPolicyOf } from './pluginops-function.ts';

/** Key prefixes of the package bucket. */
export const BUCKET_PREFIXES = {
  uploads: 'uploads/',
  drop: 'drop/',
  packages: 'packages/',
  dropResults: 'drop-results/',
  backups: 'backups/',
} as const;

export interface StorageProps {
  stage: StageConfig;
}

function attribute(key: KeyAttribute): dynamodb.Attribute {
  return {
    name: key.name,
    type: key.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
  };
}

export class Storage extends Construct {
  readonly key: kms.Key;
  readonly mainTable: dynamodb.Table;
  readonly idempotencyTable: dynamodb.Table;
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const { stage } = props;
    const removalPolicy = removalPolicyOf(stage);

    this.key = new kms.Key(this, 'Key', {
      alias: `alias/${stage.resourcePrefix}`,
      description: `pluginops ${stage.name}: tables, package bucket, alert topic, secrets`,
      enableKeyRotation: true,
      removalPolicy,
      pendingWindow: Duration.days(stage.retainData ? 30 : 7),
    });
    // CloudWatch alarms and EventBridge rules publish to the KMS-encrypted alert topic.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlertPublishers',
        principals: [
          new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
          new iam.ServicePrincipal('events.amazonaws.com'),
        ],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );

    this.mainTable = this.createTable(stage, MAIN_TABLE, removalPolicy);
    this.idempotencyTable = this.createTable(stage, IDEMPOTENCY_TABLE, removalPolicy);

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      bucketName: `${stage.resourcePrefix}-access-logs-${Aws.ACCOUNT_ID}-${Aws.REGION}`,
      // S3 server access logging cannot deliver to SSE-KMS buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(stage.logRetentionDays) }],
      removalPolicy,
      autoDeleteObjects: !stage.retainData,
    });
    suppress(this.accessLogBucket, [{ id: 'AwsSolutions-S1', reason: NAG_REASONS.accessLogBucket }]);

    this.bucket = new s3.Bucket(this, 'Packages', {
      bucketName: `${stage.resourcePrefix}-packages-${Aws.ACCOUNT_ID}-${Aws.REGION}`,
      versioned: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      eventBridgeEnabled: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'packages/',
      lifecycleRules: [
        {
          id: 'expire-uploads',
          prefix: BUCKET_PREFIXES.uploads,
          expiration: Duration.days(1),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          id: 'expire-old-versions',
          noncurrentVersionExpiration: Duration.days(stage.retainData ? 90 : 7),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy,
      autoDeleteObjects: !stage.retainData,
    });
  }

  private createTable(
    stage: StageConfig,
    definition: TableDefinition,
    removalPolicy: RemovalPolicy,
  ): dynamodb.Table {
    const table = new dynamodb.Table(this, definition.id === 'main' ? 'MainTable' : 'IdempotencyTable', {
      tableName: physicalTableName(stage.name, definition),
      partitionKey: attribute(definition.partitionKey),
      ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: stage.retainData,
      removalPolicy,
      ...(definition.timeToLiveAttribute ? { timeToLiveAttribute: definition.timeToLiveAttribute } : {}),
      ...(definition.stream === 'NEW_IMAGE' ? { stream: dynamodb.StreamViewType.NEW_IMAGE } : {}),
    });
    for (const index of definition.globalSecondaryIndexes) {
      table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: attribute(index.partitionKey),
        sortKey: attribute(index.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    return table;
  }
}
