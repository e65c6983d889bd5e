/** The resolver's port and data shapes (docs/design.md#dependencies). The resolver itself does no I/O. */

/** Where the resolver gets candidates from: the catalog, or a fake in tests. */
export interface CandidatePort {
  /**
   * All catalogued versions of a plugin (any order), each with its own declared dependencies. An
   * empty list means the plugin is not in the catalog.
   */
  versionsOf(pluginId: string): Promise<ReadonlyArray<Candidate>> | ReadonlyArray<Candidate>;
}

/** One installable build of a plugin. */
export interface Candidate {
  pluginId: string;
  version: string;
  uniqueIdentifier: string;
  dependencies: ReadonlyArray<Requirement>;
}

/** "Some version of `pluginId` within `range`" — or exactly the build `pinned`. */
export interface Requirement {
  pluginId: string;
  /** Dify-written range (`^1.2`, `1.0.0-2.0.0`, `>=1 <2`); normalized with `normalizeDifyRange`. */
  range: string;
  /** Exact unique identifier (a `package` dependency); when set, `range` is not consulted. */
  pinned?: string;
}

export interface ResolveLimits {
  /** Most distinct plugins the resolver may look up (default 500). */
  maxPackages?: number;
  /** Most decisions plus conflict-resolution rounds (default 100,000). */
  maxSteps?: number;
}

export interface ResolveRequest {
  roots: ReadonlyArray<Requirement>;
  /** pluginId → installed version; preferred whenever it satisfies every constraint. */
  installed: ReadonlyMap<string, string>;
  /** Let ranges match pre-releases they do not name (a tenant opt-in). Default false. */
  allowPrerelease?: boolean;
  limits?: ResolveLimits;
}

export interface Resolution {
  /** pluginId → chosen candidate, iterated in install order. */
  packages: Map<string, Candidate>;
  /** Install order: dependencies first; among plugins ready at the same time, lowest plugin id first. */
  order: Candidate[];
}

export type PlanAction = 'install' | 'upgrade' | 'keep' | 'downgrade';

/** One step of an install plan, in the snake_case the API uses. */
export interface PlanStep {
  plugin_id: string;
  /** Installed version before the plan, or null when the plugin is new to the tenant. */
  from: string | null;
  to: string;
  unique_identifier: string;
  action: PlanAction;
}
