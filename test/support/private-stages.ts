/**
 * Stages for the private test stacks that share the run's second DynamoDB Local, created before
 * any test runs, each with one item already written to its main table.
 *
 * Why: DynamoDB Local keeps every stream record of the engine in one SQLite table whose only key
 * is the sequence number, and on every request to a table with a stream it looks up the first
 * record of that table's stream (`MIN(SequenceNumber) … WHERE StreamID = ?`). SQLite answers
 * that by walking the records from the oldest one until it meets the stream's first: for a
 * table created late in a run, past every record the earlier suites wrote. With ~20 000
 * records ahead, each GetItem cost ~5 ms of engine CPU instead of ~0.5, and the private engine
 * spent most of its time walking them. A stage whose table has written one record before any
 * suite starts has its first record near the front, so the walk stops after a few rows.
 * (The shared stack's own engine serves one table, whose records come first anyway.)
 *
 * A suite claims a stage atomically across worker processes (`mkdir`); with the pool used up it
 * falls back to a fresh stage, which works but pays the walk.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ensureTables } from '#local/tables.ts';
import { MAIN_TABLE, physicalTableName, TABLES } from '../../infra/definitions/tables.ts';

/** Stage names some suites need (stage-specific configuration), and the pool of the rest. */
export const NAMED_PRIVATE_STAGES = ['staging', 'prod'] as const;
/** More than the suites that start a private stack take in one run (about a dozen). */
const POOL_SIZE = 20;
const SEED_CONCURRENCY = 4;

export interface PrivateStages {
  /** Pre-created stages a suite claims through {@link claimPrivateStage}. */
  pool: string[];
  /** Directory holding one subdirectory per claimed stage. */
  claims: string;
}

/** Creates the stages' tables and writes each main table's first record before any suite writes. */
export async function seedPrivateStages(client: DynamoDBClient, claims: string): Promise<PrivateStages> {
  const run = Date.now().toString(36).slice(-4);
  const pool = Array.from({ length: POOL_SIZE }, (_, index) => `p${run}${String(index).padStart(2, '0')}`);
  mkdirSync(claims, { recursive: true });
  // A few stages at a time: every first record still lands among the engine's first few dozen,
  // and global setup (which every integration file waits for) is ~1 s shorter than one by one.
  const stages = [...NAMED_PRIVATE_STAGES, ...pool];
  const seedNext = async (): Promise<void> => {
    for (let stage = stages.shift(); stage !== undefined; stage = stages.shift()) {
      await ensureTables(client, stage, TABLES);
      await client.send(
        new PutItemCommand({
          TableName: physicalTableName(stage, MAIN_TABLE),
          // No index attributes: no listing, query or relay ever sees it (the relay skips non-events).
          Item: { PK: { S: 'TEST_STAGE' }, SK: { S: 'SEED' } },
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, seedNext));
  return { pool, claims };
}

/** A pre-created stage no other suite of this run has, or undefined when all are taken. */
export function claimPrivateStage(stages: PrivateStages): string | undefined {
  for (const stage of stages.pool) {
    try {
      mkdirSync(join(stages.claims, stage));
      return stage;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return undefined;
}
