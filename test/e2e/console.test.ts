/**
 * The web console end to end in headless Debian Chromium (playwright-core, no downloaded browser)
 * against the shared local stack: sign in, publish with upload progress, install, upgrade, a
 * failing upgrade rolled back with the hold shown, roll back from history, clear the hold,
 * approve, auto-upgrade settings, a hostile README that must not run, and an axe-core scan of
 * every page (no serious or critical finding). One browser, one context, one page, in order.
 *
 * `PLUGINOPS_SCREENSHOTS=1` also writes the main pages to docs/console/.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ensureConsoleBuilt } from '#local/console-build.ts';
import { REPO_ROOT } from '#local/console-paths.ts';
import { createApiClient } from '#test/support/api-client.ts';
import { stackInfo } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const CHROMIUM = process.env.PLUGINOPS_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.PLUGINOPS_SCREENSHOTS === '1';
const stack = stackInfo();
const call = createApiClient(stack.baseUrl);
const operator = stack.bootstrapKey;
const run = randomBytes(3).toString('hex');
const tenant = `web-${run}`;
const author = `web${run}`;
const plugin = `${author}/hello`;
const uids: Record<string, string> = {};
let hostileUid = '';
let browser: Browser;
let context: BrowserContext;
let page: Page;
let axeSource = '';
const remoteRequests: string[] = [];

function manifest(name: string, version: string) {
  return { author, name, version, meta: { version } } as never;
}

async function publishRaw(bytes: Buffer): Promise<string> {
  const response = await call('POST', '/v1/packages:raw', {
    key: operator,
    body: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
  expect(response.status).toBe(201);
  return response.body.unique_identifier as string;
}

/** axe-core in the page (evaluated over the DevTools protocol, so the page's CSP is untouched). */
async function expectAccessible(name: string): Promise<void> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const scope = globalThis as any;
    const result = await scope.axe.run(scope.document);
    return result.violations
      .filter((v: { impact: string }) => v.impact === 'serious' || v.impact === 'critical')
      .map((v: { id: string; impact: string; nodes: Array<{ target: unknown }> }) => ({
        id: v.id,
        impact: v.impact,
        targets: v.nodes.slice(0, 3).map((node) => node.target),
      }));
  });
  expect(violations, `axe findings on the ${name} page`).toEqual([]);
}

async function screenshot(name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  await mkdir(join(REPO_ROOT, 'docs', 'console'), { recursive: true });
  await page.screenshot({ path: join(REPO_ROOT, 'docs', 'console', `${name}.png`), fullPage: true });
}

async function waitForDeployment(expected: string): Promise<string> {
  await page.waitForURL(/#\/deployments\/[^/]+\/[0-9A-Z]{26}$/, { timeout: 10_000 });
  const status = page.getByTestId('deployment-status');
  await expect.poll(() => status.textContent(), { timeout: 45_000, interval: 250 }).toBe(expected);
  return page.url().split('/').at(-1) as string;
}

async function openTenant(): Promise<void> {
  await page.goto(`${stack.baseUrl}/#/tenants/${tenant}`);
  await page.getByRole('heading', { name: `Tenant ${tenant}` }).waitFor();
}

/**
 * Pages a list with "Load more" until `target` shows, as a user would: lists hold 20 items a page,
 * and other suites' tenants on the shared stack may come first.
 */
async function loadUntilShown(target: Locator, timeoutMs = 30_000): Promise<void> {
  const more = page.getByRole('button', { name: 'Load more' });
  const deadline = Date.now() + timeoutMs;
  while (!(await target.isVisible())) {
    if (Date.now() > deadline) throw new Error(`not shown within ${timeoutMs} ms: ${target}`);
    // (The button is disabled while a page loads, and gone after the last one.)
    if (await more.isVisible()) await more.click({ timeout: 2_000 }).catch(() => undefined);
    else await page.waitForTimeout(100);
  }
}

function row(pluginId: string) {
  return page.locator(`tr[data-plugin="${pluginId}"]`);
}

async function deployFromDialog(version: string, confirm: string): Promise<void> {
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Version').selectOption(uids[version] as string);
  await dialog.getByRole('heading', { name: 'Checks' }).waitFor({ timeout: 15_000 });
  await dialog.getByRole('button', { name: confirm }).click();
}

beforeAll(async () => {
  const build = await ensureConsoleBuilt({ quiet: true });
  expect(existsSync(join(build.dist, 'index.html'))).toBe(true);
  axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  expect((await call('POST', '/v1/tenants', { key: operator, json: { tenant_id: tenant } })).status).toBe(
    201,
  );
  for (const version of ['0.0.2', '0.0.3']) {
    uids[version] = await publishRaw(await buildPackage({ manifest: manifest('hello', version) }));
  }
  hostileUid = await publishRaw(
    await buildPackage({
      manifest: manifest('hostile', '1.0.0'),
      files: {
        'README.md': [
          '# Hostile readme',
          '',
          'Visible text survives.',
          '',
          '<script>window.__pwned = "script"</script>',
          '<img src="x" onerror="window.__pwned = \'onerror\'">',
          '',
          `![tracker](${stack.baseUrl}/remote-tracker.png)`,
          '',
          '<a href="javascript:window.__pwned=1">click</a>',
          '',
        ].join('\n'),
      },
    }),
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  page = await context.newPage();
  page.on('request', (request) => {
    if (request.url().includes('remote-tracker')) remoteRequests.push(request.url());
  });
}, 180_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
});

/** On failure, keep what the browser showed (path printed) so a red run can be read. */
function keepFailureScreenshot(name: string): void {
  onTestFailed(async () => {
    const path = join(tmpdir(), `pluginops-e2e-${run}-${name.replace(/\W+/g, '-').slice(0, 40)}.png`);
    await page?.screenshot({ path, fullPage: true }).catch(() => undefined);
    console.error(`e2e failure screenshot: ${path}`);
  });
}

describe('web console', { timeout: 90_000 }, () => {
  it('serves the console same-origin at / with security headers; the API stays under /v1/', async () => {
    keepFailureScreenshot('serves the console same-origin');
    const response = await fetch(`${stack.baseUrl}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("img-src 'self' data:");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const api = await fetch(`${stack.baseUrl}/v1/nope`);
    expect(api.status).toBe(404);
    expect(api.headers.get('content-type')).toContain('application/problem+json');
  });

  it('signs in with a key kept in sessionStorage only', async () => {
    keepFailureScreenshot('signs in with a key kept in se');
    await page.goto(stack.baseUrl);
    await page.getByLabel('API key').waitFor();
    await expectAccessible('sign-in');
    await screenshot('sign-in');
    await page.getByLabel('API key').fill('po_notakeynotakeynotakeynotakeynotakeynotakey1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('unknown or revoked');
    await page.getByLabel('API key').fill(operator);
    await page.getByRole('button', { name: 'Sign in' }).click();
    for (const link of ['Catalog', 'Tenants', 'Deployments', 'Approvals', 'Auto-upgrade']) {
      await page.getByRole('link', { name: link, exact: true }).waitFor();
    }
    expect(page.url()).not.toContain(operator);
    const storage = await page.evaluate(() => {
      const scope = globalThis as any;
      return {
        session: Object.values(scope.sessionStorage) as string[],
        local: Object.keys(scope.localStorage).length,
      };
    });
    expect(storage.session).toContain(operator);
    expect(storage.local).toBe(0);
  });

  it('publishes a dropped package with an upload progress bar, then shows its identifier', async () => {
    keepFailureScreenshot('publishes a dropped package wi');
    const bytes = await buildPackage({ manifest: manifest('hello', '0.0.1') });
    await page.getByRole('link', { name: 'Catalog', exact: true }).click();
    const transfer = await page.evaluateHandle(
      ({ base64, name }) => {
        const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const scope = globalThis as any;
        const dt = new scope.DataTransfer();
        dt.items.add(new File([data], name, { type: 'application/octet-stream' }));
        return dt;
      },
      { base64: bytes.toString('base64'), name: 'hello-0.0.1.difypkg' },
    );
    await page.getByTestId('dropzone').dispatchEvent('drop', { dataTransfer: transfer });
    await page.getByText('hello-0.0.1.difypkg').waitFor();
    await page.getByRole('button', { name: 'Publish' }).click();
    const progress = page.getByRole('progressbar', { name: 'Upload progress' });
    await progress.waitFor();
    const published = page.getByRole('status', { name: 'Published identifier' });
    await published.waitFor({ timeout: 20_000 });
    expect(await progress.getAttribute('value')).toBe('100');
    const text = (await published.textContent()) ?? '';
    const uid = /(web[0-9a-f]+\/hello:0\.0\.1@[0-9a-f]{64})/.exec(text)?.[1];
    expect(uid).toBeDefined();
    uids['0.0.1'] = uid as string;
    const stored = await call('GET', `/v1/packages/${encodeURIComponent(uid as string)}`, { key: operator });
    expect(stored.status).toBe(200);
  });

  it('searches the catalog and renders a hostile README without running it or loading remote images', async () => {
    keepFailureScreenshot('searches the catalog and rende');
    await page.getByLabel('Search plugins').fill(`${author}/host`);
    await page.getByRole('button', { name: `${author}/hostile` }).click();
    const readme = page.getByRole('article', { name: 'README' });
    await readme.getByText('Visible text survives.').waitFor();
    await page.getByRole('cell', { name: hostileUid }).waitFor();
    expect(await readme.locator('script, iframe, [onerror]').count()).toBe(0);
    expect(await readme.locator('img').count()).toBe(0);
    expect(await readme.textContent()).toContain('[image: tracker]');
    expect(await readme.locator('a[href^="javascript"]').count()).toBe(0);
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => (globalThis as any).__pwned)).toBeUndefined();
    expect(remoteRequests).toEqual([]);
    await expectAccessible('catalog');
    await screenshot('catalog');
  });

  it('installs with a plan preview and follows the deployment timeline live', async () => {
    keepFailureScreenshot('installs with a plan preview a');
    await openTenant();
    await page.getByLabel('Plugin to install').fill(plugin);
    await page.getByRole('button', { name: 'Install', exact: true }).click();
    await deployFromDialog('0.0.1', 'Confirm install');
    await waitForDeployment('succeeded');
    const timeline = page.getByRole('list', { name: 'Steps' });
    for (const step of ['Resolve', 'Verify', 'Apply', 'Probe', 'Release']) {
      await expect(timeline.getByText(step, { exact: true }).isVisible()).resolves.toBe(true);
    }
    await expectAccessible('deployment');
    await screenshot('deployment');
    await openTenant();
    await expect.poll(() => row(plugin).textContent()).toContain('0.0.1');
  });

  it('upgrades, then a failing upgrade is rolled back and the hold is shown', async () => {
    keepFailureScreenshot('upgrades, then a failing upgra');
    await row(plugin).getByRole('button', { name: 'Upgrade' }).click();
    await deployFromDialog('0.0.2', 'Confirm upgrade');
    await waitForDeployment('succeeded');

    const fault = await fetch(`${stack.runtimeUrl}/admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ unique_identifier: uids['0.0.3'], mode: 'fail' }),
    });
    expect(fault.status).toBe(201);
    try {
      await openTenant();
      await row(plugin).getByRole('button', { name: 'Upgrade' }).click();
      await deployFromDialog('0.0.3', 'Confirm upgrade');
      await waitForDeployment('rolled_back');
      await expect(page.getByRole('alert').first().textContent()).resolves.toMatch(/probe/i);
    } finally {
      await fetch(
        `${stack.runtimeUrl}/admin/faults?unique_identifier=${encodeURIComponent(uids['0.0.3'] as string)}`,
        {
          method: 'DELETE',
        },
      );
    }
    await openTenant();
    await expect.poll(() => row(plugin).textContent()).toContain('0.0.2');
    expect(await row(plugin).textContent()).toContain('held');
    expect(await row(plugin).textContent()).toContain('0.0.3');
    await expectAccessible('tenant overview');
    await screenshot('tenant');
  });

  it('rolls back to a chosen revision from the history, then clears the hold', async () => {
    keepFailureScreenshot('rolls back to a chosen revisio');
    await row(plugin)
      .getByRole('button', { name: `History of ${plugin}` })
      .click();
    const history = page.getByRole('region', { name: `History of ${plugin}` });
    const first = history
      .getByRole('row')
      .filter({ has: page.getByRole('cell', { name: '1', exact: true }) });
    await first.getByRole('button', { name: 'Roll back' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await waitForDeployment('succeeded');
    await openTenant();
    await expect.poll(() => row(plugin).locator('td').nth(1).textContent()).toBe('0.0.1');
    await row(plugin).getByRole('button', { name: 'Clear hold' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => row(plugin).textContent()).not.toContain('held');
    const installs = await call('GET', `/v1/tenants/${tenant}/installations`, { key: operator });
    expect(installs.body.items[0].hold).toBeUndefined();
  });

  it('approves a deployment awaiting approval', async () => {
    keepFailureScreenshot('approves a deployment awaiting');
    const policy = await call('PUT', `/v1/tenants/${tenant}/policy`, {
      key: operator,
      json: { approval_required: true },
    });
    expect(policy.status).toBe(200);
    const started = await call('POST', `/v1/tenants/${tenant}/deployments`, {
      key: operator,
      json: { operation: 'upgrade', unique_identifier: uids['0.0.2'] },
    });
    expect(started.status).toBe(202);
    const id = started.body.deployment_id as string;
    await expect
      .poll(
        async () =>
          (await call('GET', `/v1/tenants/${tenant}/deployments/${id}`, { key: operator })).body.status,
        {
          timeout: 20_000,
        },
      )
      .toBe('awaiting_approval');
    await page.getByRole('link', { name: 'Approvals', exact: true }).click();
    await page.getByLabel('Tenant').selectOption(tenant);
    await page.getByRole('button', { name: 'Approve' }).waitFor();
    await expectAccessible('approvals');
    await screenshot('approvals');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    expect(await waitForDeployment('succeeded')).toBe(id);
    await call('PUT', `/v1/tenants/${tenant}/policy`, { key: operator, json: { approval_required: false } });
  });

  it('lists deployments of the tenant', async () => {
    keepFailureScreenshot('lists deployments of the tenan');
    await page.getByRole('link', { name: 'Deployments', exact: true }).click();
    await page.getByRole('cell', { name: 'rolled_back' }).waitFor();
    await expectAccessible('deployments');
  });

  it('saves auto-upgrade settings with an IANA zone and shows the next run in both zones', async () => {
    keepFailureScreenshot('saves auto-upgrade settings wi');
    await page.getByRole('link', { name: 'Auto-upgrade', exact: true }).click();
    await page.getByLabel('Time zone').waitFor();
    await page.getByLabel('Time zone').selectOption('Asia/Tokyo');
    await page.getByLabel('Time of day').fill('04:30');
    await page.getByLabel('Strategy').selectOption('latest');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.getByText('Next run (Asia/Tokyo)').count()).toBe(1);
    expect(await page.getByTestId('next-run-tenant').textContent()).toMatch(/GMT\+9|JST/);
    expect(await page.getByTestId('next-run-viewer').textContent()).not.toBe('disabled');
    const saved = await call('GET', `/v1/tenants/${tenant}/auto-upgrade`, { key: operator });
    expect(saved.body).toMatchObject({
      timezone: 'Asia/Tokyo',
      upgrade_time_of_day: 4 * 3600 + 30 * 60,
      strategy_setting: 'latest',
      is_default: false,
    });
    await expectAccessible('auto-upgrade');
    await screenshot('auto-upgrade');
  });

  it('shows operator pages: tenants, keys without secrets, signers', async () => {
    keepFailureScreenshot('shows operator pages: tenants,');
    await page.getByRole('link', { name: 'Tenants', exact: true }).click();
    await loadUntilShown(page.getByRole('link', { name: tenant }));
    await expectAccessible('tenants');
    await page.getByRole('link', { name: 'Operator', exact: true }).click();
    await page.getByRole('heading', { name: `API keys of ${tenant}` }).waitFor();
    await expectAccessible('operator');
    await screenshot('operator');
  });

  it('shows a read-only tenant key only what its scopes allow', async () => {
    keepFailureScreenshot('read-only tenant key');
    const issued = await call('POST', `/v1/tenants/${tenant}/keys`, {
      key: operator,
      json: { scopes: ['read'] },
    });
    expect(issued.status).toBe(201);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').fill(issued.body.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Tenants', exact: true }).click();
    await page.getByRole('heading', { name: `Tenant ${tenant}` }).waitFor();
    await expect.poll(() => row(plugin).textContent()).toContain('0.0.2');
    expect(await page.getByRole('link', { name: 'Operator' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Upgrade' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Install' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Catalog', exact: true }).click();
    await page.getByLabel('Search plugins').waitFor();
    expect(await page.getByRole('button', { name: 'Publish' }).count()).toBe(0);
  });
});
