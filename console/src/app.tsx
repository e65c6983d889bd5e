/**
 * The console shell: sign-in gate, navigation, tenant picker and hash routing (`#/catalog`, …).
 * Hash routes keep the static hosting trivial (one index.html) and never carry the key.
 */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { type Answered, api, ok } from './api/client.ts';
import { ApprovalsPage } from './pages/approvals.tsx';
import { AutoUpgradePage } from './pages/auto-upgrade.tsx';
import { CatalogPage } from './pages/catalog.tsx';
import { DeploymentPage, DeploymentsPage } from './pages/deployments.tsx';
import { OperatorPage } from './pages/operator.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { TenantPage, TenantsPage } from './pages/tenants.tsx';
import { readKey, readTenant, signOut, storeTenant } from './session.ts';

export type Me = Answered<'/v1/me', 'get'>;

export interface Session {
  me: Me;
  tenant: string | null;
  setTenant(tenant: string): void;
  can(scope: 'read' | 'packages:write' | 'deploy:write' | 'admin'): boolean;
  operator: boolean;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession outside the signed-in console');
  return session;
}

export function navigate(hash: string): void {
  location.hash = hash;
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}

const NAV = [
  ['#/catalog', 'Catalog'],
  ['#/tenants', 'Tenants'],
  ['#/deployments', 'Deployments'],
  ['#/approvals', 'Approvals'],
  ['#/auto-upgrade', 'Auto-upgrade'],
] as const;

export function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(readKey() !== null);
  const [tenant, setTenantState] = useState<string | null>(readTenant());
  const hash = useHash();

  useEffect(() => {
    if (readKey() === null) return;
    ok(api.GET('/v1/me'))
      .then((who) => setMe(who))
      .catch(() => signOut())
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    if (me?.tenant_id) setTenantState(me.tenant_id);
  }, [me]);

  if (checking) return <p class="loading">Loading…</p>;
  if (me === null) return <SignInPage onSignedIn={(who) => setMe(who)} />;

  const session: Session = {
    me,
    tenant,
    operator: me.tenant_id === null,
    setTenant(next) {
      storeTenant(next);
      setTenantState(next);
    },
    can: (scope) => me.scopes.includes(scope) || me.scopes.includes('admin'),
  };
  const [, section = 'catalog', ...rest] = (hash || '#/catalog').split('/');
  const nav = session.operator ? [...NAV, ['#/operator', 'Operator'] as const] : NAV;

  return (
    <SessionContext.Provider value={session}>
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">pluginops</span>
        <nav aria-label="Main">
          <ul>
            {nav.map(([href, label]) => (
              <li key={href}>
                <a href={href} aria-current={href === `#/${section}` ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {session.operator ? 'operator' : `tenant ${me.tenant_id}`} · {me.scopes.join(', ')}
        </span>
        <button
          type="button"
          onClick={() => {
            signOut();
            setMe(null);
            navigate('#/catalog');
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Route section={section} rest={rest} />
      </main>
    </SessionContext.Provider>
  );
}

function Route({ section, rest }: { section: string; rest: string[] }) {
  switch (section) {
    case 'tenants':
      return rest[0] ? <TenantPage tenantId={decodeURIComponent(rest[0])} /> : <TenantsPage />;
    case 'deployments':
      return rest[0] && rest[1] ? (
        <DeploymentPage tenantId={decodeURIComponent(rest[0])} deploymentId={rest[1]} />
      ) : (
        <DeploymentsPage />
      );
    case 'approvals':
      return <ApprovalsPage />;
    case 'auto-upgrade':
      return <AutoUpgradePage />;
    case 'operator':
      return <OperatorPage />;
    default:
      return <CatalogPage />;
  }
}

/** For tenant-scoped pages: the operator's chosen tenant, with a picker. */
export function TenantPicker() {
  const session = useSession();
  const [tenants, setTenants] = useState<string[]>([]);
  useEffect(() => {
    if (!session.operator) return;
    ok(api.GET('/v1/tenants', { params: { query: { limit: 100 } } }))
      .then((page) => {
        const ids = page.items.map((item) => item.tenant_id);
        setTenants(ids);
        if (session.tenant === null && ids[0] !== undefined) session.setTenant(ids[0]);
      })
      .catch(() => setTenants([]));
  }, [session.operator]);
  if (!session.operator) return <p class="context">Tenant: {session.tenant}</p>;
  return (
    <p class="context">
      <label>
        Tenant{' '}
        <select
          value={session.tenant ?? ''}
          onChange={(event) => session.setTenant(event.currentTarget.value)}
        >
          {session.tenant === null && <option value="">(choose)</option>}
          {tenants.map((id) => (
            <option key={id} value={id}>
              {id}
            </option>
          ))}
        </select>
      </label>
    </p>
  );
}
