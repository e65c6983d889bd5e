/** Errors of the deploy domain that more than one layer raises or recognises. */
import { ConflictError } from '../errors.ts';

/** The lease is someone else's and still valid. */
export class LeaseHeldError extends ConflictError {
  readonly holder: string;
  constructor(pluginId: string, holder: string, expiresAt: string) {
    super(`${pluginId} is being changed by deployment ${holder} (lease until ${expiresAt}).`, {
      extensions: { deployment_id: holder },
    });
    this.name = 'LeaseHeldError';
    this.holder = holder;
  }
}
