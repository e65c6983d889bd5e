/**
 * The signed-in key lives in sessionStorage only: never in the URL, never in localStorage, gone
 * when the tab closes. The chosen tenant (not a secret) sits beside it.
 */
const KEY = 'pluginops.key';
const TENANT = 'pluginops.tenant';

export function readKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function readTenant(): string | null {
  return sessionStorage.getItem(TENANT);
}

export function storeTenant(tenant: string): void {
  sessionStorage.setItem(TENANT, tenant);
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(TENANT);
}
