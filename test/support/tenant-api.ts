/**
 * API steps the deployment suites share (deploy, dependencies, Dify daemon): a tenant with keys,
 * publishing raw packages, starting a deployment and waiting until it and its workflow run have
 * ended, and reading installations and revisions. Every step goes through the HTTP API and checks
 * its status, as a client would.
 */
import { expect } from 'vitest';
import type { LocalWorkflowEngine } from '#local/workflows.ts';
import { type createApiClient, eventually } from './api-client.ts';

type Call = ReturnType<typeof createApiClient>;

/** Statuses a deployment does not leave. */
export const FINAL_STATUSES = new Set(['succeeded', 'failed', 'rolled_back', 'rejected']);

export interface TenantApiOptions {
  /** The API client; a getter, since suites make it once their stack runs. */
  call: () => Call;
  /** An operator key (creates tenants, issues keys, publishes). */
  operator: string;
  /** The stack's workflow engine (a deployment has ended when its run has). */
  workflows: () => Pick<LocalWorkflowEngine, 'waitForExecution'>;
}

export interface NewTenant {
  id: string;
  /** Extra fields of `POST /v1/tenants` (e.g. `dify_tenant_id`). */
  fields?: Record<string, unknown>;
  /** An author the tenant's keys may publish under. */
  author?: string;
  /** Keys to issue: name → scopes. */
  keys: Record<string, string[]>;
  /** A policy to set, with the key named here (default: the operator's). */
  policy?: Record<string, unknown>;
  policyKey?: string;
}

export function tenantApi(options: TenantApiOptions) {
  const call: Call = (...args) => options.call()(...args);
  const operator = options.operator;

  /** Creates the tenant and issues its keys; returns the keys by name. */
  async function createTenant(tenant: NewTenant): Promise<Record<string, string>> {
    const created = await call('POST', '/v1/tenants', {
      key: operator,
      json: { tenant_id: tenant.id, ...tenant.fields },
    });
    expect(created.status, created.text).toBe(201);
    if (tenant.author !== undefined) {
      // Tenant keys (and drop folders) publish only under authors granted to their tenant (docs/security.md).
      const granted = await call('PUT', `/v1/authors/${tenant.author}/tenants/${tenant.id}`, {
        key: operator,
      });
      expect(granted.status, granted.text).toBe(200);
    }
    const keys: Record<string, string> = {};
    for (const [name, scopes] of Object.entries(tenant.keys)) {
      const issued = await call('POST', `/v1/tenants/${tenant.id}/keys`, { key: operator, json: { scopes } });
      expect(issued.status, issued.text).toBe(201);
      keys[name] = issued.body.key as string;
    }
    if (tenant.policy !== undefined && Object.keys(tenant.policy).length > 0) {
      const key = tenant.policyKey === undefined ? operator : (keys[tenant.policyKey] ?? operator);
      const set = await call('PUT', `/v1/tenants/${tenant.id}/policy`, { key, json: tenant.policy });
      expect(set.status, set.text).toBe(200);
    }
    return keys;
  }

  /** Publishes a package's bytes with the operator key (a republish answers 200). */
  async function publishBytes(body: Buffer) {
    const response = await call('POST', '/v1/packages:raw', {
      key: operator,
      body,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect([200, 201], response.text).toContain(response.status);
    return response.body as {
      unique_identifier: string;
      plugin_id: string;
      version: string;
      sha256: string;
      storage_key?: string;
    };
  }

  function deploy(
    tenantId: string,
    key: string,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) {
    return call('POST', `/v1/tenants/${tenantId}/deployments`, { key, json: body, headers });
  }

  /**
   * The deployment once its workflow run has ended (Alert runs after a rollback) and its status is
   * final. The run's end is awaited first, without polling: the status is final by then, except
   * after a cut run, which the recovery pass closes (polled).
   */
  async function finished(tenantId: string, key: string, deploymentId: string, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    await options.workflows().waitForExecution(deploymentId, timeoutMs);
    const read = () => call('GET', `/v1/tenants/${tenantId}/deployments/${deploymentId}`, { key });
    return eventually(
      async () => {
        const { body } = await read();
        return FINAL_STATUSES.has(body.status) ? body : undefined;
      },
      Math.max(1, deadline - Date.now()),
    );
  }

  async function deployAndWait(tenantId: string, key: string, body: Record<string, unknown>) {
    const response = await deploy(tenantId, key, body);
    expect(response.status, response.text).toBe(202);
    return finished(tenantId, key, response.body.deployment_id);
  }

  async function installations(tenantId: string, key: string) {
    const response = await call('GET', `/v1/tenants/${tenantId}/installations`, { key });
    expect(response.status).toBe(200);
    return response.body.items as Array<Record<string, any>>;
  }

  async function revisions(tenantId: string, key: string, pluginId: string) {
    const response = await call('GET', `/v1/tenants/${tenantId}/installations/${pluginId}/revisions`, {
      key,
    });
    expect(response.status).toBe(200);
    return response.body.items as Array<Record<string, any>>;
  }

  return { createTenant, publishBytes, deploy, finished, deployAndWait, installations, revisions };
}
