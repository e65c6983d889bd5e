/**
 * Runs inside the Lambda functions (bundled by the generated entries, see `infra/lambda/entries.ts`).
 * Secrets never sit in plain environment variables: the stack sets `PLUGINOPS_SECRET_ARNS`, a JSON
 * object `{ "<ENV_NAME>": "<secret arn>" }`, and this loader fetches each value through the AWS
 * Parameters and Secrets Lambda Extension (a localhost HTTP cache, no SDK client needed) and puts
 * it in `process.env[ENV_NAME]` before any handler module is loaded, so `functions/config/runtime-config.ts`
 * reads it like any other setting. A secret holding the placeholder `UNSET` leaves the variable unset.
 */

import { ENV } from '#config/names.ts';

export const SECRET_ARNS_VARIABLE = ENV.secretArns;
export const UNSET_SECRET_VALUE = 'UNSET';

const ATTEMPTS = 3;

export type SecretFetcher = (secretId: string) => Promise<string>;

/** Reads one secret through the extension's HTTP endpoint (port 2773 unless configured). */
export async function fetchSecretFromExtension(secretId: string): Promise<string> {
  const port = process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? '2773';
  const url = `http://localhost:${port}/secretsmanager/get?secretId=${encodeURIComponent(secretId)}`;
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    try {
      const response = await fetch(url, {
        headers: { 'X-Aws-Parameters-Secrets-Token': process.env.AWS_SESSION_TOKEN ?? '' },
        signal: AbortSignal.timeout(2_000),
      });
      if (!response.ok) throw new Error(`secrets extension answered ${response.status}`);
      const body = (await response.json()) as { SecretString?: string };
      if (typeof body.SecretString !== 'string') throw new Error('secret has no SecretString');
      return body.SecretString;
    } catch (error) {
      lastError = error;
      // The extension may still be starting on the very first invocation.
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
  throw new Error(`could not read secret ${secretId}`, { cause: lastError });
}

/** Fills `env` from the secrets named in `PLUGINOPS_SECRET_ARNS`; a no-op when it is unset. */
export async function loadRuntimeSecrets(
  env: NodeJS.ProcessEnv = process.env,
  fetchSecret: SecretFetcher = fetchSecretFromExtension,
): Promise<void> {
  const mapping = env[SECRET_ARNS_VARIABLE];
  if (mapping === undefined || mapping === '') return;
  const entries = Object.entries(JSON.parse(mapping) as Record<string, string>);
  const values = await Promise.all(entries.map(([, arn]) => fetchSecret(arn)));
  entries.forEach(([name], index) => {
    const value = values[index];
    if (value !== undefined && value !== UNSET_SECRET_VALUE) env[name] = value;
  });
}

let pending: Promise<void> | undefined;

/** Loads the secrets once per execution environment; a failed load is retried on the next call. */
export function runtimeSecretsReady(): Promise<void> {
  pending ??= loadRuntimeSecrets().catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}
