/** Who is calling: the identity an API key resolves to, as every layer above the adapters sees it. */
import type { Scope } from './api-keys.ts';

export interface Caller {
  keyId: string;
  /** `null` for operator keys, which act on every tenant. */
  tenantId: string | null;
  scopes: Scope[];
}
