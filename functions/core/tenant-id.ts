/** The shape of a tenant id: it is a DynamoDB partition-key part and a URL path segment. */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Whether `value` can name a tenant at all (it may still name none). */
export function isTenantId(value: string): boolean {
  return TENANT_ID_PATTERN.test(value);
}
