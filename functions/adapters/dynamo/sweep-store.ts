/**
 * What the auto-upgrade sweep keeps besides settings and tenant runs (those live in
 * `auto-upgrade.ts`): canary rollouts (wave, halt, resume), per-sweep summaries
 * and the once-only marker of each `Auto-upgrade Alert`. Keys come from `keys.ts`.
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Rollout, SweepSummary } from '#core/auto-upgrade/records.ts';
import { ConflictError, NotFoundError } from '#core/errors.ts';
import type { Page } from '#core/page.ts';
import { batchGetItems } from './batch-get.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { isConditionalFailure, putIfAbsent } from './conditions.ts';
import { keys } from './keys.ts';
import { queryPrefixPage } from './query-page.ts';

/** Sweep summaries expire like tenant runs. */
const SWEEP_RUN_RETENTION_DAYS = 90;

function toRollout(item: Record<string, unknown>): Rollout {
  const { PK: _pk, SK: _sk, type: _type, ...rest } = item;
  return rest as unknown as Rollout;
}

export async function findRollout(uniqueIdentifier: string): Promise<Rollout | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.rollout(uniqueIdentifier), ConsistentRead: true }),
  );
  return Item === undefined ? undefined : toRollout(Item);
}

/** Rollouts of the given builds (batched, at most one round trip per 100 builds). */
export async function findRollouts(uniqueIdentifiers: readonly string[]): Promise<Map<string, Rollout>> {
  const found = new Map<string, Rollout>();
  const unique = [...new Set(uniqueIdentifiers)];
  const items = await batchGetItems(
    unique.map((id) => keys.rollout(id)),
    { consistentRead: true },
  );
  for (const item of items) {
    const rollout = toRollout(item);
    found.set(rollout.unique_identifier, rollout);
  }
  return found;
}

/**
 * Creates the rollout with its first wave. Two sweeps racing on the same build: the first put
 * wins and the loser gets the winner's rollout back, so both follow the same wave.
 */
export async function createRollout(rollout: Rollout): Promise<Rollout> {
  try {
    await documentClientInstance().send(
      new PutCommand({
        TableName: mainTableName(),
        Item: { ...keys.rollout(rollout.unique_identifier), type: 'rollout', ...rollout },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
    return rollout;
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const existing = await findRollout(rollout.unique_identifier);
    if (existing === undefined) throw error;
    return existing;
  }
}

/** Remembers which deployment a wave tenant got (the wave's outcome is read from them). */
export async function recordWaveDeployment(
  uniqueIdentifier: string,
  tenantId: string,
  deploymentId: string,
): Promise<void> {
  await documentClientInstance().send(
    new UpdateCommand({
      TableName: mainTableName(),
      Key: keys.rollout(uniqueIdentifier),
      UpdateExpression: 'SET wave_deployments.#tenant = :deployment',
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeNames: { '#tenant': tenantId },
      ExpressionAttributeValues: { ':deployment': deploymentId },
    }),
  );
}

/**
 * Closes the wave: `open` (it passed) or `halted`. Only a rollout still in its wave moves, so a
 * second sweep deciding the same wave, or an operator who already resumed, is left alone; the
 * rollout as stored afterwards is returned either way, with `changed` telling who won.
 */
export async function closeWave(
  uniqueIdentifier: string,
  outcome:
    | { status: 'open'; wave_result: { attempted: number; failed: number } }
    | { status: 'halted'; wave_result: { attempted: number; failed: number }; halt: Rollout['halt'] },
): Promise<{ rollout: Rollout; changed: boolean }> {
  const halt = outcome.status === 'halted' ? outcome.halt : undefined;
  try {
    const { Attributes } = await documentClientInstance().send(
      new UpdateCommand({
        TableName: mainTableName(),
        Key: keys.rollout(uniqueIdentifier),
        UpdateExpression: `SET #status = :status, wave_result = :result${halt === undefined ? '' : ', halt = :halt'}`,
        ConditionExpression: '#status = :wave',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':status': outcome.status,
          ':result': outcome.wave_result,
          ':wave': 'wave',
          ...(halt === undefined ? {} : { ':halt': halt }),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { rollout: toRollout(Attributes ?? {}), changed: true };
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const current = await findRollout(uniqueIdentifier);
    if (current === undefined) throw error;
    return { rollout: current, changed: false };
  }
}

/**
 * An operator lifts a halt: the build is open to everyone again (the halt record stays, with who
 * resumed it and when). 404 when the build has no rollout; 409 when it is not halted.
 */
export async function resumeRollout(uniqueIdentifier: string, by: string, now: Date): Promise<Rollout> {
  try {
    const { Attributes } = await documentClientInstance().send(
      new UpdateCommand({
        TableName: mainTableName(),
        Key: keys.rollout(uniqueIdentifier),
        UpdateExpression: 'SET #status = :open, resumed = :resumed',
        ConditionExpression: '#status = :halted',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':open': 'open',
          ':halted': 'halted',
          ':resumed': { at: now.toISOString(), by },
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toRollout(Attributes ?? {});
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const current = await findRollout(uniqueIdentifier);
    if (current === undefined) throw new NotFoundError(`No rollout of ${uniqueIdentifier} exists.`);
    throw new ConflictError(`The rollout of ${uniqueIdentifier} is ${current.status}, not halted.`, {
      extensions: { rollout_status: current.status },
    });
  }
}

/**
 * Claims the one `Auto-upgrade Alert` of a tenant's target. True the first time only, so a
 * sweep that sees the exhausted target again (or a retried task) does not alert twice.
 */
export async function claimUpgradeAlert(
  tenantId: string,
  uniqueIdentifier: string,
  now: Date,
): Promise<boolean> {
  return putIfAbsent({
    ...keys.upgradeAlert(tenantId, uniqueIdentifier),
    type: 'upgrade_alert',
    tenant_id: tenantId,
    unique_identifier: uniqueIdentifier,
    alerted_at: now.toISOString(),
  });
}

/** Overwrites a summary of the same `run_at` (a re-run of the same window). */
export async function putSweepRun(summary: SweepSummary): Promise<void> {
  const runAt = new Date(summary.run_at);
  await documentClientInstance().send(
    new PutCommand({
      TableName: mainTableName(),
      Item: {
        ...keys.sweepRun(runAt.toISOString()),
        type: 'sweep_run',
        summary,
        expires_at_epoch: Math.floor(runAt.getTime() / 1000) + SWEEP_RUN_RETENTION_DAYS * 86_400,
      },
    }),
  );
}

export async function listSweepRuns(limit: number, cursor: string | undefined): Promise<Page<SweepSummary>> {
  const page = await queryPrefixPage({
    partition: keys.sweepRunsPartition(),
    scope: 'sweep-runs',
    limit,
    cursor,
    newestFirst: true,
  });
  return { items: page.items.map((item) => item.summary as SweepSummary), next_cursor: page.next_cursor };
}
