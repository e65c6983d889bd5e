/**
 * An in-memory {@link DeployPorts} with the semantics of the DynamoDB adapters
 * (functions/adapters/dynamo/deployments.ts, installations.ts) and the outbox
 * (functions/adapters/events.ts), for unit tests of the deploy workflow's steps:
 *
 * - deployments: conditional status updates (`onlyFrom`; a missing item is a failed condition),
 *   timeline entries keyed by step name, `remove`; the change and its events apply together or not;
 * - installations: leases taken when free, ours or expired (else {@link LeaseHeldError}), released
 *   only by their holder; `applyRevision` = installation + revision N+1 + timeline + events in one
 *   transaction conditioned on the expected revision and the lease holder (a retry of the same
 *   write is `already-applied`, anything else a ConflictError); revision outcomes change once;
 *   `setHold` on a missing item fails like a ConditionalCheckFailedException;
 * - the outbox: events keyed by `event_id`; only the first write of an id is delivered (a rewrite is
 *   a stream MODIFY, never delivered), so {@link InMemoryDeployPorts.events} is what consumers see;
 * - a planner over an in-memory catalog with explicit dependency lists, a verifier refusing a
 *   configurable set of builds, a runtime that records its desired state and answers probes from it;
 * - fault injection: {@link InMemoryDeployPorts.failOn} makes the nth call of a port method throw,
 *   before its effect (a failed request) or after it (a lost acknowledgement).
 */
import type { PackageRecord } from '#core/catalog.ts';
import { LeaseHeldError } from '#core/deploy/errors.ts';
import type {
  Deployment,
  DeploymentPlan,
  DeploymentStep,
  Hold,
  Lease,
  PlanStep,
  RevisionOutcome,
  StepName,
} from '#core/deploy/model.ts';
import { desiredStateGeneration, planBasis, planStep, rollbackRevisionNumber } from '#core/deploy/plan.ts';
import type {
  ApplyRevisionInput,
  DeploymentChange,
  DeployPorts,
  PlanOptions,
  PlanRequest,
  ProbeOutcome,
  StoredInstallation,
  StoredRevision,
} from '#core/deploy/ports.ts';
import type { CheckResult } from '#core/deploy/verify.ts';
import { ConflictError, NotFoundError } from '#core/errors.ts';
import type { DomainEvent } from '#core/events.ts';
import { stageDefaultPolicy, type TenantPolicy } from '#core/policy.ts';
import { compareVersions } from '#core/version.ts';

/** Every port method the fault injector knows, as `port.method`. */
export const PORT_METHODS = [
  'deployments.find',
  'deployments.configSealed',
  'deployments.update',
  'installations.find',
  'installations.listInstalled',
  'installations.takeLease',
  'installations.releaseLease',
  'installations.applyRevision',
  'installations.findRevision',
  'installations.finalizeRevision',
  'installations.setHold',
  'planner.plan',
  'planner.assertNoDependents',
  'verifier.tenantPolicy',
  'verifier.keyring',
  'verifier.findPackage',
  'verifier.resulting',
  'verifier.checks',
  'runtime.sync',
  'runtime.probe',
  'saveSnapshot',
] as const;
export type PortMethod = (typeof PORT_METHODS)[number];

export interface Fault {
  /** The nth call from the moment the fault is registered (1 = the next call). */
  nth?: number;
  /** How many consecutive calls fail, starting at the nth (default 1). */
  times?: number;
  /** Default: a DynamoDB throttling error (transient). */
  error?: unknown;
  /** `after`: the call takes effect and then throws (the acknowledgement was lost). */
  when?: 'before' | 'after';
}

/** A transient AWS-style error (what {@link isTransient} retries). */
export function throttling(message = 'injected throttling'): Error {
  return Object.assign(new Error(message), { name: 'ThrottlingException', $retryable: {} });
}

/** A conditional failure escaping an adapter that does not catch it (setHold on a missing item). */
function conditionalCheckFailed(message: string): Error {
  return Object.assign(new Error(message), { name: 'ConditionalCheckFailedException' });
}

/** A synced desired state, as the runtime host keeps it. */
export interface RuntimeDocument {
  tenant_id: string;
  generation: number;
  updated_at: string;
  plugins: Array<{ plugin_id: string; unique_identifier: string; package_key: string; sha256: string }>;
}

interface StoredDeployment extends Omit<Deployment, 'steps'> {
  steps: Partial<Record<StepName, DeploymentStep>>;
  task_token?: string;
  config_sealed?: string;
}

export interface InMemoryOptions {
  /** Start of the clock (default 2026-01-01T00:00:00Z). */
  start?: Date;
  /** Each clock() call moves time by this many ms (default 1), so timeline entries order. */
  tickMs?: number;
  policy?: Partial<TenantPolicy>;
}

const clone = <T>(value: T): T => (value === undefined ? value : structuredClone(value));
const key = (...parts: Array<string | number>) => parts.join('\u0000');

/** A catalog record for tests: `author/name:version@<64 hex>`. */
export function packageRecord(pluginId: string, version: string, extra: Partial<PackageRecord> = {}) {
  const hex = Buffer.from(`${pluginId}:${version}`).toString('hex').padEnd(64, '0').slice(0, 64);
  const record: PackageRecord = {
    unique_identifier: `${pluginId}:${version}@${hex}`,
    plugin_id: pluginId,
    version,
    checksum: hex,
    sha256: hex,
    size: 1024,
    manifest: {},
    signature: { status: 'unsigned' },
    source: { type: 'package' },
    dependencies: [],
    storage_key: `packages/sha256/${hex}.difypkg`,
    published_at: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
  return record;
}

export class InMemoryDeployPorts {
  readonly deploymentItems = new Map<string, StoredDeployment>();
  readonly installationItems = new Map<string, StoredInstallation>();
  readonly revisionItems = new Map<string, StoredRevision>();
  /** Outbox items by event id (a rewrite replaces the item but is not delivered again). */
  readonly outbox = new Map<string, DomainEvent>();
  /** Delivered events, in the order they were first stored (what the stream's INSERTs carry). */
  readonly events: DomainEvent[] = [];
  /** Catalog by unique identifier. */
  readonly catalog = new Map<string, PackageRecord>();
  /**
   * Dependencies of a build: each entry is a unique identifier (exactly that build) or a plugin id
   * (kept when installed, else its highest catalogued version).
   */
  readonly dependencies = new Map<string, string[]>();
  /** Builds the verifier refuses (a failing `signature-required` check). */
  readonly refused = new Set<string>();
  /** The runtime's desired state per tenant, and every sync it was asked for. */
  readonly runtimeState = new Map<string, RuntimeDocument>();
  readonly syncs: Array<{ tenant_id: string; generation: number; plugins: string[] }> = [];
  /** Probe answers by `tenant/plugin` (default: whether the runtime's desired state runs the id). */
  readonly probeAnswers = new Map<string, ProbeOutcome | ((uid: string | null) => ProbeOutcome)>();
  readonly snapshots = new Map<string, unknown>();
  /** Every port call, in order. */
  readonly calls: PortMethod[] = [];
  /** Indexes (in {@link calls}) of the calls an injected fault made throw. */
  readonly fired: number[] = [];
  policy: TenantPolicy;
  private now: number;
  private readonly tickMs: number;
  private readonly callCounts = new Map<PortMethod, number>();
  private readonly faults: Array<{
    method: PortMethod;
    from: number;
    to: number;
    error: unknown;
    when: 'before' | 'after';
  }> = [];
  readonly ports: DeployPorts;

  constructor(options: InMemoryOptions = {}) {
    this.now = (options.start ?? new Date('2026-01-01T00:00:00.000Z')).getTime();
    this.tickMs = options.tickMs ?? 1;
    this.policy = {
      ...stageDefaultPolicy({ platformVersion: '1.9.0', approvalRequired: false }),
      ...options.policy,
    };
    this.ports = this.build();
  }

  // ── Test controls ───────────────────────────────────────────────────────────────────────────

  /** Makes the nth call (from now on) of `method` throw; see {@link Fault}. */
  failOn(method: PortMethod, fault: Fault = {}): this {
    const start = this.callCounts.get(method) ?? 0;
    const from = start + (fault.nth ?? 1);
    this.faults.push({
      method,
      from,
      to: from + (fault.times ?? 1) - 1,
      error: fault.error ?? throttling(`injected fault in ${method}`),
      when: fault.when ?? 'before',
    });
    return this;
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  advance(ms: number): void {
    this.now += ms;
  }

  currentTime(): Date {
    return new Date(this.now);
  }

  addPackage(record: PackageRecord, dependsOn: string[] = []): PackageRecord {
    this.catalog.set(record.unique_identifier, clone(record));
    if (dependsOn.length > 0) this.dependencies.set(record.unique_identifier, dependsOn);
    return record;
  }

  /** A new deployment item, as the API creates it. */
  addDeployment(
    fields: Pick<Deployment, 'deployment_id' | 'tenant_id' | 'operation' | 'target'> &
      Partial<Omit<Deployment, 'steps'>> & { config_sealed?: string },
  ): void {
    const at = this.currentTime().toISOString();
    this.deploymentItems.set(key(fields.tenant_id, fields.deployment_id), {
      actor: 'user:test',
      status: 'pending',
      allow_downgrade: false,
      has_config: false,
      approval_timeout_seconds: 3600,
      created_at: at,
      updated_at: at,
      ...fields,
      steps: {},
    });
  }

  /**
   * An installation as if deployed earlier (revision history included): `uniqueIdentifier` null
   * records an uninstall. Every call adds one revision.
   */
  install(tenantId: string, pluginId: string, uniqueIdentifier: string | null, deploymentId = 'seed'): void {
    const current = this.installationItems.get(key(tenantId, pluginId));
    const record = uniqueIdentifier === null ? undefined : this.catalog.get(uniqueIdentifier);
    if (uniqueIdentifier !== null && record === undefined)
      throw new Error(`${uniqueIdentifier} not in catalog`);
    const revision = (current?.revision ?? 0) + 1;
    const at = this.currentTime().toISOString();
    const next: StoredInstallation = {
      ...(current ?? {}),
      tenant_id: tenantId,
      plugin_id: pluginId,
      unique_identifier: uniqueIdentifier,
      version: record?.version ?? null,
      revision,
      status: uniqueIdentifier === null ? 'uninstalled' : 'installed',
      package_key: record?.storage_key ?? null,
      sha256: record?.sha256 ?? null,
      last_deployment_id: deploymentId,
      updated_at: at,
    };
    this.installationItems.set(key(tenantId, pluginId), next);
    this.revisionItems.set(key(tenantId, pluginId, revision), {
      tenant_id: tenantId,
      plugin_id: pluginId,
      revision,
      unique_identifier: uniqueIdentifier,
      previous_unique_identifier: current?.unique_identifier ?? null,
      version: record?.version ?? null,
      operation: current?.unique_identifier ? 'upgrade' : 'install',
      actor: 'seed',
      deployment_id: deploymentId,
      config_digest: null,
      outcome: 'succeeded',
      created_at: at,
    });
    this.writeRuntime(tenantId, this.tenantInstallations(tenantId), this.currentTime());
  }

  /** Sets a lease directly (e.g. one left behind by a crashed run). */
  setLease(tenantId: string, pluginId: string, lease: Lease): void {
    const current = this.installationItems.get(key(tenantId, pluginId));
    this.installationItems.set(key(tenantId, pluginId), {
      ...(current ?? this.emptyInstallation(tenantId, pluginId)),
      lock: lease,
    });
  }

  installation(tenantId: string, pluginId: string): StoredInstallation | undefined {
    return clone(this.installationItems.get(key(tenantId, pluginId)));
  }

  revision(tenantId: string, pluginId: string, revision: number): StoredRevision | undefined {
    return clone(this.revisionItems.get(key(tenantId, pluginId, revision)));
  }

  deployment(tenantId: string, deploymentId: string): Deployment | undefined {
    const item = this.deploymentItems.get(key(tenantId, deploymentId));
    return item === undefined ? undefined : toDeployment(item);
  }

  eventsOf(type: DomainEvent['detail_type'], deploymentId?: string): DomainEvent[] {
    return this.events.filter(
      (event) =>
        event.detail_type === type &&
        (deploymentId === undefined || event.detail.deployment_id === deploymentId),
    );
  }

  /** What the runtime runs for the plugin (null: nothing). */
  running(tenantId: string, pluginId: string): string | null {
    return (
      this.runtimeState.get(tenantId)?.plugins.find((item) => item.plugin_id === pluginId)
        ?.unique_identifier ?? null
    );
  }

  // ── The ports ───────────────────────────────────────────────────────────────────────────────

  private tick(): Date {
    const at = new Date(this.now);
    this.now += this.tickMs;
    return at;
  }

  /** Counts the call, throws an injected fault before or after the effect. */
  private wrap<A extends unknown[], R>(method: PortMethod, impl: (...args: A) => Promise<R>) {
    return async (...args: A): Promise<R> => {
      const count = (this.callCounts.get(method) ?? 0) + 1;
      this.callCounts.set(method, count);
      this.calls.push(method);
      const fault = this.faults.find(
        (item) => item.method === method && count >= item.from && count <= item.to,
      );
      if (fault !== undefined) this.fired.push(this.calls.length - 1);
      if (fault?.when === 'before') throw fault.error;
      // Nothing the caller holds is shared with the store.
      const result = await impl(...(clone(args) as A));
      if (fault?.when === 'after') throw fault.error;
      return clone(result);
    };
  }

  private emptyInstallation(tenantId: string, pluginId: string): StoredInstallation {
    return {
      tenant_id: tenantId,
      plugin_id: pluginId,
      unique_identifier: null,
      version: null,
      revision: 0,
      status: 'uninstalled',
      package_key: null,
      sha256: null,
      updated_at: this.currentTime().toISOString(),
    };
  }

  private tenantInstallations(tenantId: string): StoredInstallation[] {
    return [...this.installationItems.values()]
      .filter((item) => item.tenant_id === tenantId)
      .sort((a, b) => (a.plugin_id < b.plugin_id ? -1 : a.plugin_id > b.plugin_id ? 1 : 0));
  }

  private storeEvents(events: readonly DomainEvent[] | undefined): void {
    for (const event of events ?? []) {
      if (!this.outbox.has(event.event_id)) this.events.push(clone(event));
      this.outbox.set(event.event_id, clone(event));
    }
  }

  private applyTimeline(item: StoredDeployment, steps: readonly DeploymentStep[] | undefined): void {
    for (const step of steps ?? []) item.steps[step.name] = clone(step);
  }

  private writeRuntime(tenantId: string, installed: readonly StoredInstallation[], now: Date) {
    const generation = desiredStateGeneration(installed.map((item) => item.revision));
    const current = this.runtimeState.get(tenantId);
    if (current !== undefined && current.generation > generation) return 'newer-present' as const;
    const plugins = installed
      .filter((item) => item.status === 'installed' && item.unique_identifier !== null)
      .map((item) => ({
        plugin_id: item.plugin_id,
        unique_identifier: item.unique_identifier as string,
        package_key: item.package_key as string,
        sha256: item.sha256 as string,
      }));
    this.runtimeState.set(tenantId, {
      tenant_id: tenantId,
      generation,
      updated_at: now.toISOString(),
      plugins,
    });
    this.syncs.push({
      tenant_id: tenantId,
      generation,
      plugins: plugins.map((item) => item.unique_identifier),
    });
    return 'written' as const;
  }

  private latest(pluginId: string): PackageRecord | undefined {
    return [...this.catalog.values()]
      .filter((record) => record.plugin_id === pluginId)
      .sort((a, b) => compareVersions(b.version, a.version))[0];
  }

  /** Dependencies first (depth first, each plugin once), then the build itself. */
  private closure(record: PackageRecord, installed: Map<string, StoredInstallation>, seen: Set<string>) {
    const out: PackageRecord[] = [];
    for (const spec of this.dependencies.get(record.unique_identifier) ?? []) {
      const dependency = spec.includes(':')
        ? this.catalog.get(spec)
        : (() => {
            const current = installed.get(spec);
            const kept =
              current?.status === 'installed' && current.unique_identifier !== null
                ? this.catalog.get(current.unique_identifier)
                : undefined;
            return kept ?? this.latest(spec);
          })();
      if (dependency === undefined) throw new NotFoundError(`No build of ${spec} in the catalog.`);
      if (seen.has(dependency.plugin_id)) continue;
      seen.add(dependency.plugin_id);
      out.push(...this.closure(dependency, installed, seen));
    }
    out.push(record);
    return out;
  }

  private plan(request: PlanRequest, options: PlanOptions): DeploymentPlan {
    const pluginId = request.target.plugin_id;
    if (pluginId === undefined) throw new Error('a deployment names its plugin');
    const installations = new Map(options.installations.map((item) => [item.plugin_id, item]));
    const refOf = (id: string) => {
      const item = installations.get(id);
      return {
        unique_identifier: item?.unique_identifier ?? null,
        version: item?.version ?? null,
        revision: item?.revision ?? 0,
      };
    };
    const base = {
      operation: request.operation,
      pluginId,
      installed: refOf(pluginId),
      expectedCurrent: request.expected_current,
      hasConfig: request.has_config,
    };
    const toPlanned = (record: PackageRecord) => ({
      unique_identifier: record.unique_identifier,
      plugin_id: record.plugin_id,
      version: record.version,
      storage_key: record.storage_key,
      sha256: record.sha256,
    });
    if (request.operation === 'uninstall' || request.operation === 'rollback') {
      let step: PlanStep;
      if (request.operation === 'uninstall') step = planStep(base);
      else {
        const number = rollbackRevisionNumber(base.installed.revision, request.target.to_revision);
        const revision = this.revisionItems.get(key(request.tenant_id, pluginId, number));
        if (revision === undefined)
          throw new NotFoundError(`Revision ${number} of ${pluginId} does not exist.`);
        const restored =
          revision.unique_identifier === null ? undefined : this.catalog.get(revision.unique_identifier);
        step = planStep({
          ...base,
          restore: { revision, ...(restored === undefined ? {} : { package: toPlanned(restored) }) },
        });
      }
      const relied = request.operation === 'uninstall' ? [...installations.keys()] : [];
      return {
        steps: [step],
        order: [pluginId],
        basis: planBasis([pluginId, ...relied], options.installations),
      };
    }
    const uid = request.target.unique_identifier;
    const target = uid === undefined ? this.latest(pluginId) : this.catalog.get(uid);
    if (target === undefined) throw new NotFoundError(`Package ${uid ?? pluginId} is not in the catalog.`);
    const builds = this.closure(target, installations, new Set([pluginId]));
    const steps = builds.map((record) =>
      record.plugin_id === pluginId
        ? planStep({ ...base, target: toPlanned(record) })
        : planStep({
            operation: refOf(record.plugin_id).unique_identifier === null ? 'install' : 'upgrade',
            pluginId: record.plugin_id,
            installed: refOf(record.plugin_id),
            target: toPlanned(record),
            hasConfig: false,
          }),
    );
    const order = steps.map((step) => step.plugin_id);
    return { steps, order, basis: planBasis(order, options.installations), fetched: [] };
  }

  private build(): DeployPorts {
    return {
      deployments: {
        find: this.wrap('deployments.find', async (tenantId: string, deploymentId: string) =>
          this.deployment(tenantId, deploymentId),
        ),
        configSealed: this.wrap(
          'deployments.configSealed',
          async (tenantId: string, deploymentId: string) =>
            this.deploymentItems.get(key(tenantId, deploymentId))?.config_sealed,
        ),
        update: this.wrap(
          'deployments.update',
          async (
            tenantId: string,
            deploymentId: string,
            change: DeploymentChange,
            now: Date,
            onlyFrom?: readonly Deployment['status'][],
            events?: readonly DomainEvent[],
          ) => {
            const item = this.deploymentItems.get(key(tenantId, deploymentId));
            if (item === undefined) return false;
            if (onlyFrom !== undefined && !onlyFrom.includes(item.status)) return false;
            const next: StoredDeployment = clone(item);
            next.updated_at = new Date(now).toISOString();
            if (change.status !== undefined) next.status = change.status;
            if (change.plan !== undefined) next.plan = change.plan;
            if (change.target !== undefined) next.target = change.target;
            if (change.error !== undefined) next.error = change.error;
            if (change.approval !== undefined) next.approval = change.approval;
            if (change.task_token !== undefined) next.task_token = change.task_token;
            if (change.drift !== undefined) next.drift = [...change.drift];
            this.applyTimeline(next, change.steps);
            for (const field of change.remove ?? []) delete next[field];
            this.deploymentItems.set(key(tenantId, deploymentId), next);
            this.storeEvents(events);
            return true;
          },
        ),
      },
      installations: {
        find: this.wrap('installations.find', async (tenantId: string, pluginId: string) =>
          this.installation(tenantId, pluginId),
        ),
        listInstalled: this.wrap('installations.listInstalled', async (tenantId: string) =>
          this.tenantInstallations(tenantId),
        ),
        takeLease: this.wrap(
          'installations.takeLease',
          async (tenantId: string, pluginId: string, lease: Lease, now: Date) => {
            const current = this.installationItems.get(key(tenantId, pluginId));
            const lock = current?.lock;
            const free =
              lock === undefined ||
              lock.deployment_id === lease.deployment_id ||
              lock.expires_at < new Date(now).toISOString();
            if (!free) throw new LeaseHeldError(pluginId, lock.deployment_id, lock.expires_at);
            this.installationItems.set(key(tenantId, pluginId), {
              ...(current ?? this.emptyInstallation(tenantId, pluginId)),
              ...(current === undefined ? { updated_at: new Date(now).toISOString() } : {}),
              lock: lease,
            });
            return { previous: lock };
          },
        ),
        releaseLease: this.wrap(
          'installations.releaseLease',
          async (tenantId: string, pluginId: string, deploymentId: string) => {
            const current = this.installationItems.get(key(tenantId, pluginId));
            if (current?.lock?.deployment_id !== deploymentId) return false;
            const { lock: _released, ...rest } = current;
            this.installationItems.set(key(tenantId, pluginId), rest);
            return true;
          },
        ),
        applyRevision: this.wrap('installations.applyRevision', async (input: ApplyRevisionInput) => {
          const next = input.expectedRevision + 1;
          const current = this.installationItems.get(key(input.tenantId, input.pluginId));
          const revisionKey = key(input.tenantId, input.pluginId, next);
          const deployment = this.deploymentItems.get(key(input.tenantId, input.deploymentId));
          const holds =
            current !== undefined &&
            current.revision === input.expectedRevision &&
            current.lock?.deployment_id === input.deploymentId &&
            !this.revisionItems.has(revisionKey) &&
            ((input.steps ?? []).length === 0 || deployment !== undefined);
          if (!holds) {
            const existing = this.revisionItems.get(revisionKey);
            if (
              existing !== undefined &&
              existing.deployment_id === input.deploymentId &&
              existing.operation === input.revision.operation &&
              existing.unique_identifier === input.state.unique_identifier
            ) {
              return { result: 'already-applied' as const, revision: next };
            }
            throw new ConflictError(
              `${input.pluginId} is no longer at revision ${input.expectedRevision} under deployment ${input.deploymentId}'s lease.`,
            );
          }
          const { state } = input;
          const updated: StoredInstallation = {
            ...current,
            unique_identifier: state.unique_identifier,
            version: state.version,
            revision: next,
            status: state.unique_identifier === null ? 'uninstalled' : 'installed',
            package_key: state.package_key,
            sha256: state.sha256,
            last_deployment_id: input.deploymentId,
            updated_at: new Date(input.now).toISOString(),
          };
          if (state.config_sealed === null) {
            delete updated.config_sealed;
            delete updated.config_digest;
          } else {
            updated.config_sealed = state.config_sealed;
            updated.config_digest = state.config_digest as string;
          }
          const revision: StoredRevision = {
            ...input.revision,
            tenant_id: input.tenantId,
            plugin_id: input.pluginId,
            revision: next,
          };
          if (state.config_sealed !== null) revision.config_sealed = state.config_sealed;
          this.installationItems.set(key(input.tenantId, input.pluginId), updated);
          this.revisionItems.set(revisionKey, revision);
          if (deployment !== undefined && (input.steps ?? []).length > 0) {
            const changed = clone(deployment);
            this.applyTimeline(changed, input.steps);
            this.deploymentItems.set(key(input.tenantId, input.deploymentId), changed);
          }
          this.storeEvents(input.events);
          return { result: 'applied' as const, revision: next };
        }),
        findRevision: this.wrap(
          'installations.findRevision',
          async (tenantId: string, pluginId: string, revision: number) =>
            this.revision(tenantId, pluginId, revision),
        ),
        finalizeRevision: this.wrap(
          'installations.finalizeRevision',
          async (
            tenantId: string,
            pluginId: string,
            revision: number,
            outcome: Exclude<RevisionOutcome, 'pending'>,
            now: Date,
          ) => {
            const item = this.revisionItems.get(key(tenantId, pluginId, revision));
            if (item?.outcome !== 'pending') return false;
            this.revisionItems.set(key(tenantId, pluginId, revision), {
              ...item,
              outcome,
              finalized_at: new Date(now).toISOString(),
            });
            return true;
          },
        ),
        setHold: this.wrap(
          'installations.setHold',
          async (tenantId: string, pluginId: string, hold: Hold) => {
            const current = this.installationItems.get(key(tenantId, pluginId));
            if (current === undefined) throw conditionalCheckFailed('The conditional request failed');
            this.installationItems.set(key(tenantId, pluginId), { ...current, hold });
          },
        ),
      },
      planner: {
        plan: this.wrap('planner.plan', async (request: PlanRequest, options: PlanOptions) =>
          this.plan(request, options),
        ),
        assertNoDependents: this.wrap(
          'planner.assertNoDependents',
          async (tenantId: string, pluginId: string) => {
            const dependents = this.tenantInstallations(tenantId)
              .filter((item) => item.status === 'installed' && item.unique_identifier !== null)
              .filter((item) =>
                (this.dependencies.get(item.unique_identifier as string) ?? []).some(
                  (spec) => spec === pluginId || spec.startsWith(`${pluginId}:`),
                ),
              );
            if (dependents.length > 0) {
              throw new ConflictError(
                `${pluginId} is needed by ${dependents.map((item) => item.plugin_id).join(', ')}.`,
              );
            }
          },
        ),
      },
      verifier: {
        tenantPolicy: this.wrap('verifier.tenantPolicy', async (_tenantId: string) => this.policy),
        keyring: this.wrap('verifier.keyring', async () => []),
        findPackage: this.wrap('verifier.findPackage', async (uid: string) => this.catalog.get(uid)),
        resulting: this.wrap(
          'verifier.resulting',
          async (
            planned: readonly PackageRecord[],
            installed: readonly StoredInstallation[],
            removed: ReadonlySet<string>,
          ) => {
            const result = new Map<
              string,
              { plugin_id: string; version: string; unique_identifier: string }
            >();
            for (const item of installed) {
              if (item.status !== 'installed' || item.unique_identifier === null || item.version === null)
                continue;
              if (removed.has(item.plugin_id)) continue;
              result.set(item.plugin_id, {
                plugin_id: item.plugin_id,
                version: item.version,
                unique_identifier: item.unique_identifier,
              });
            }
            for (const record of planned) {
              result.set(record.plugin_id, {
                plugin_id: record.plugin_id,
                version: record.version,
                unique_identifier: record.unique_identifier,
              });
            }
            return [...result.values()];
          },
        ),
        checks: this.wrap('verifier.checks', async (request): Promise<CheckResult[]> => {
          const uid = request.record.unique_identifier;
          if (this.refused.has(uid)) {
            return [
              { check: 'integrity', ok: true, detail: 'checksum matches' },
              {
                check: 'signature',
                ok: false,
                slug: 'signature-required',
                detail: `${uid} is not signed by a trusted signer.`,
              },
            ];
          }
          return [
            { check: 'integrity', ok: true, detail: 'checksum matches' },
            { check: 'signature', ok: true, detail: 'not required' },
          ];
        }),
      },
      runtime: {
        sync: this.wrap(
          'runtime.sync',
          async (tenantId: string, installed: readonly StoredInstallation[], now: Date) =>
            this.writeRuntime(tenantId, installed, now),
        ),
        probe: this.wrap(
          'runtime.probe',
          async (tenantId: string, pluginId: string, uid: string | null): Promise<ProbeOutcome> => {
            const answer = this.probeAnswers.get(key(tenantId, pluginId));
            if (typeof answer === 'function') return answer(uid);
            if (answer !== undefined) return answer;
            const observed = this.running(tenantId, pluginId);
            return observed === uid
              ? { ok: true, ...(observed === null ? {} : { observed }), detail: 'running as desired' }
              : {
                  ok: false,
                  ...(observed === null ? {} : { observed }),
                  detail: `runs ${observed ?? 'nothing'}`,
                };
          },
        ),
      },
      saveSnapshot: this.wrap('saveSnapshot', async (snapshotKey: string, snapshot: unknown) => {
        this.snapshots.set(snapshotKey, snapshot);
      }),
      clock: () => this.tick(),
    };
  }
}

function toDeployment(item: StoredDeployment): Deployment {
  const { task_token: _token, config_sealed: _sealed, ...record } = clone(item);
  const steps = Object.values(record.steps).sort((a, b) =>
    a.started_at < b.started_at ? -1 : a.started_at > b.started_at ? 1 : 0,
  );
  return { ...record, steps };
}

/** The key of {@link InMemoryDeployPorts.probeAnswers} for a tenant's plugin. */
export function probeKey(tenantId: string, pluginId: string): string {
  return key(tenantId, pluginId);
}

/** The key of an item in the stores' maps: (tenant, deployment), (tenant, plugin), (tenant, plugin, revision). */
export function storeKey(...parts: Array<string | number>): string {
  return key(...parts);
}
