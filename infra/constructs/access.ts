/**
 * Least-privilege grants, narrower than CDK's `grantReadData`/`grantReadWriteData` (which add
 * Scan, BatchWriteItem, DescribeTable, …): exactly the DynamoDB calls the adapters make, and S3
 * access per key prefix. KMS permissions follow the data access (decrypt to read, encrypt to write).
 */

import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';

/** GetCommand, QueryCommand (table and GSIs), BatchGetCommand. */
export const TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchGetItem'] as const;

/** PutCommand, UpdateCommand, DeleteCommand and the parts of TransactWriteCommand. */
export const TABLE_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
] as const;

export const KMS_DECRYPT_ACTIONS = ['kms:Decrypt', 'kms:DescribeKey'] as const;
export const KMS_ENCRYPT_ACTIONS = ['kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'] as const;

export type Access = 'read' | 'read-write';

export function grantTable(role: iam.IRole, table: dynamodb.ITable, key: kms.IKey, access: Access): void {
  const actions: string[] = [...TABLE_READ_ACTIONS, ...(access === 'read-write' ? TABLE_WRITE_ACTIONS : [])];
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions, resources: [table.tableArn, `${table.tableArn}/index/*`] }),
  );
  grantKey(role, key, access);
}

/** Object access under one prefix; `write` means PutObject only (no delete: the store is immutable). */
export function grantObjects(
  role: iam.IRole,
  bucket: s3.IBucket,
  key: kms.IKey,
  prefix: string,
  access: 'read' | 'write' | 'read-write',
): void {
  const actions = [
    ...(access === 'write' ? [] : ['s3:GetObject']),
    ...(access === 'read' ? [] : ['s3:PutObject']),
  ];
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions, resources: [bucket.arnForObjects(`${prefix}*`)] }),
  );
  grantKey(role, key, access === 'read' ? 'read' : 'read-write');
}

/**
 * `s3:ListBucket` on the bucket, for code that asks whether an object exists (`objectExists`, and
 * `putFileOnce` through it): without it S3 answers HeadObject/GetObject of a missing key with 403
 * instead of 404, and the adapter treats that as a failure. It reveals key names, never content.
 */
export function grantExistenceChecks(role: iam.IRole, bucket: s3.IBucket): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
  );
}

function grantKey(role: iam.IRole, key: kms.IKey, access: Access): void {
  const actions: string[] = [...KMS_DECRYPT_ACTIONS, ...(access === 'read-write' ? KMS_ENCRYPT_ACTIONS : [])];
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [key.keyArn] }));
}
