/**
 * Creates the DynamoDB tables on DynamoDB Local from the definitions CDK deploys, so local and AWS
 * share one key schema. Idempotent and additive: missing tables, GSIs and TTL settings are added;
 * nothing is ever deleted or recreated.
 */
import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { physicalTableName, type TableDefinition } from '../infra/definitions/tables.ts';

export interface EnsureTablesResult {
  created: string[];
  existing: string[];
}

export async function ensureTables(
  client: DynamoDBClient,
  stage: string,
  tables: readonly TableDefinition[],
): Promise<EnsureTablesResult> {
  const present = new Set(await listTableNames(client));
  const result: EnsureTablesResult = { created: [], existing: [] };
  for (const table of tables) {
    const name = physicalTableName(stage, table);
    if (present.has(name)) {
      await addMissingIndexes(client, name, table);
      await ensureStream(client, name, table);
      result.existing.push(name);
    } else {
      await createTable(client, name, table);
      result.created.push(name);
    }
    await ensureTimeToLive(client, name, table);
  }
  return result;
}

async function listTableNames(client: DynamoDBClient): Promise<string[]> {
  const names: string[] = [];
  let start: string | undefined;
  do {
    const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    names.push(...(page.TableNames ?? []));
    start = page.LastEvaluatedTableName;
  } while (start !== undefined);
  return names;
}

export function createTableInput(name: string, table: TableDefinition): CreateTableCommandInput {
  const attributes = new Map<string, AttributeDefinition>();
  const addAttribute = (key: { name: string; type: 'S' | 'N' }) =>
    attributes.set(key.name, { AttributeName: key.name, AttributeType: key.type });
  addAttribute(table.partitionKey);
  if (table.sortKey) addAttribute(table.sortKey);
  for (const index of table.globalSecondaryIndexes) {
    addAttribute(index.partitionKey);
    addAttribute(index.sortKey);
  }
  const input: CreateTableCommandInput = {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes.values()],
    KeySchema: [
      { AttributeName: table.partitionKey.name, KeyType: 'HASH' },
      ...(table.sortKey ? [{ AttributeName: table.sortKey.name, KeyType: 'RANGE' as const }] : []),
    ],
  };
  if (table.stream !== undefined) {
    input.StreamSpecification = { StreamEnabled: true, StreamViewType: table.stream };
  }
  if (table.globalSecondaryIndexes.length > 0) {
    input.GlobalSecondaryIndexes = table.globalSecondaryIndexes.map((index) => ({
      IndexName: index.indexName,
      KeySchema: [
        { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    }));
  }
  return input;
}

async function createTable(client: DynamoDBClient, name: string, table: TableDefinition): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(name, table)));
  } catch (error) {
    // Another process created it between our ListTables and CreateTable: that is the goal anyway.
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}

/** A GSI added to the definitions after the local table was created is added in place. */
async function addMissingIndexes(
  client: DynamoDBClient,
  name: string,
  table: TableDefinition,
): Promise<void> {
  const description = await client.send(new DescribeTableCommand({ TableName: name }));
  const existing = new Set((description.Table?.GlobalSecondaryIndexes ?? []).map((gsi) => gsi.IndexName));
  const full = createTableInput(name, table);
  for (const index of full.GlobalSecondaryIndexes ?? []) {
    if (existing.has(index.IndexName)) continue;
    await client.send(
      new UpdateTableCommand({
        TableName: name,
        AttributeDefinitions: full.AttributeDefinitions,
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
  }
}

/** A stream added to the definitions after the local table was created is turned on in place. */
async function ensureStream(client: DynamoDBClient, name: string, table: TableDefinition): Promise<void> {
  if (table.stream === undefined) return;
  const description = await client.send(new DescribeTableCommand({ TableName: name }));
  if (description.Table?.StreamSpecification?.StreamEnabled === true) return;
  await client.send(
    new UpdateTableCommand({
      TableName: name,
      StreamSpecification: { StreamEnabled: true, StreamViewType: table.stream },
    }),
  );
}

async function ensureTimeToLive(client: DynamoDBClient, name: string, table: TableDefinition): Promise<void> {
  if (table.timeToLiveAttribute === undefined) return;
  const current = await client.send(new DescribeTimeToLiveCommand({ TableName: name }));
  const description = current.TimeToLiveDescription;
  if (
    description?.AttributeName === table.timeToLiveAttribute &&
    (description.TimeToLiveStatus === 'ENABLED' || description.TimeToLiveStatus === 'ENABLING')
  ) {
    return;
  }
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: name,
      TimeToLiveSpecification: { AttributeName: table.timeToLiveAttribute, Enabled: true },
    }),
  );
}
