/** The dependency resolver's public surface. */
export { describePlan } from './plan.ts';
export { requirementFromDependency, resolveDependencies } from './resolve.ts';
export { DEFAULT_MAX_PACKAGES, DEFAULT_MAX_STEPS } from './solver.ts';
export type {
  Candidate,
  CandidatePort,
  PlanAction,
  PlanStep,
  Requirement,
  Resolution,
  ResolveLimits,
  ResolveRequest,
} from './types.ts';
