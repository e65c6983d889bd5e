import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_TABLE, MAIN_TABLE, physicalTableName } from '../../infra/definitions/tables.ts';
import { type SynthesizedStage, synthStages } from './synth.ts';

let dev: SynthesizedStage;
let prod: SynthesizedStage;

beforeAll(() => {
  ({ dev, prod } = synthStages(['dev', 'prod'], {}, { bundle: false }));
});

function tableResource(stage: SynthesizedStage, tableName: string) {
  const tables = stage.template.findResources('AWS::DynamoDB::Table', {
    Properties: { TableName: tableName },
  });
  const entries = Object.values(tables);
  expect(entries).toHaveLength(1);
  return entries[0] as {
    Properties: Record<string, unknown>;
    DeletionPolicy?: string;
    UpdateReplacePolicy?: string;
  };
}

describe('tables', () => {
  it('give the main table the shared key schema, both GSIs, PITR, TTL and the stage key', () => {
    dev.template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: physicalTableName('dev', MAIN_TABLE),
      KeySchema: [
        { AttributeName: 'PK', KeyType: 'HASH' },
        { AttributeName: 'SK', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [
        {
          IndexName: 'GSI1',
          KeySchema: [
            { AttributeName: 'GSI1PK', KeyType: 'HASH' },
            { AttributeName: 'GSI1SK', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: 'GSI2',
          KeySchema: [
            { AttributeName: 'GSI2PK', KeyType: 'HASH' },
            { AttributeName: 'GSI2SK', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expires_at_epoch', Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
    });
  });

  it('give the idempotency table its own key, PITR and Powertools TTL attribute', () => {
    dev.template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: physicalTableName('dev', IDEMPOTENCY_TABLE),
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    });
  });

  it('are retained and deletion-protected in prod', () => {
    for (const definition of [MAIN_TABLE, IDEMPOTENCY_TABLE]) {
      const table = tableResource(prod, physicalTableName('prod', definition));
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
      expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    }
  });

  it('are destroyed with the stack and not deletion-protected in dev', () => {
    for (const definition of [MAIN_TABLE, IDEMPOTENCY_TABLE]) {
      const table = tableResource(dev, physicalTableName('dev', definition));
      expect(table.DeletionPolicy).toBe('Delete');
      expect(table.Properties.DeletionProtectionEnabled).not.toBe(true);
    }
  });
});

describe('package bucket', () => {
  const packageBucket = (stage: SynthesizedStage) => {
    const buckets = stage.template.findResources('AWS::S3::Bucket', {
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
    });
    const entries = Object.entries(buckets);
    expect(entries).toHaveLength(1);
    return entries[0] as [string, { Properties: Record<string, unknown>; DeletionPolicy?: string }];
  };

  it('is versioned, encrypted with the stage KMS key, and blocks public access', () => {
    const [, bucket] = packageBucket(dev);
    expect(bucket.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms',
            KMSMasterKeyID: {
              'Fn::GetAtt': [dev.stack.getLogicalId(dev.stack.storage.key.node.defaultChild as never), 'Arn'],
            },
          },
        },
      ],
    });
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.LoggingConfiguration).toMatchObject({ LogFilePrefix: 'packages/' });
  });

  it('sends its events to EventBridge (the drop folder depends on it)', () => {
    const [bucketId] = packageBucket(dev);
    dev.template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: bucketId },
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
  });

  it('expires uploads/ after one day', () => {
    const [, bucket] = packageBucket(dev);
    const rules = (bucket.Properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules).toContainEqual(
      expect.objectContaining({ Prefix: 'uploads/', ExpirationInDays: 1, Status: 'Enabled' }),
    );
  });

  it('denies every request that is not TLS', () => {
    const [bucketId] = packageBucket(dev);
    dev.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('is retained in prod and removed in dev', () => {
    expect(packageBucket(prod)[1].DeletionPolicy).toBe('Retain');
    expect(packageBucket(dev)[1].DeletionPolicy).toBe('Delete');
  });

  it('uses a rotating customer-managed key retained in prod', () => {
    dev.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    prod.template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
  });
});

describe('outbox', () => {
  it('streams new images of the main table to the relay, event items only, retried per record', () => {
    dev.template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: physicalTableName('dev', MAIN_TABLE),
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
    });
    const mappings = Object.values(dev.template.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (mapping) =>
        JSON.stringify(
          (mapping as { Properties: { FilterCriteria?: unknown } }).Properties.FilterCriteria,
        ).includes('event'),
    ) as Array<{ Properties: Record<string, any> }>;
    expect(mappings).toHaveLength(1);
    const mapping = (mappings[0] as { Properties: Record<string, any> }).Properties;
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.BisectBatchOnFunctionError).toBe(true);
    expect(mapping.DestinationConfig.OnFailure.Destination).toBeDefined();
    const patterns = mapping.FilterCriteria.Filters.map((filter: { Pattern: string }) =>
      JSON.parse(filter.Pattern),
    );
    expect(patterns).toEqual([{ eventName: ['INSERT'], dynamodb: { NewImage: { type: { S: ['event'] } } } }]);
  });
});
