/** Operator: tenants (create), a tenant's keys (issue, revoke; never secrets), policy, signers. */
import { useEffect, useState } from 'preact/hooks';
import { api, ok } from '../api/client.ts';
import { TenantPicker, useSession } from '../app.tsx';
import { Badge, ConfirmButton, formatTime, MoreButton, ProblemAlert, useAction, usePaged } from '../ui.tsx';

export function OperatorPage() {
  const session = useSession();
  const [version, setVersion] = useState(0);
  if (!session.operator) return <p role="alert">The Operator page needs an operator key.</p>;
  return (
    <section aria-labelledby="operator-title">
      <h1 id="operator-title">Operator</h1>
      <CreateTenant onCreated={() => setVersion(version + 1)} />
      <TenantPicker key={version} />
      {session.tenant && <Keys key={`k${session.tenant}`} tenantId={session.tenant} />}
      {session.tenant && <PolicyEditor key={`p${session.tenant}`} tenantId={session.tenant} />}
      <Signers />
    </section>
  );
}

function CreateTenant({ onCreated }: { onCreated: () => void }) {
  const [tenantId, setTenantId] = useState('');
  return (
    <div class="panel inline">
      <label>
        New tenant id{' '}
        <input value={tenantId} onInput={(event) => setTenantId(event.currentTarget.value.trim())} />
      </label>{' '}
      <ConfirmButton
        label="Create tenant"
        title={`Create tenant ${tenantId}?`}
        confirmDisabled={tenantId === ''}
        onConfirm={async () => {
          await ok(api.POST('/v1/tenants', { body: { tenant_id: tenantId } }));
          setTenantId('');
          onCreated();
        }}
      />
    </div>
  );
}

const SCOPES = ['read', 'packages:write', 'deploy:write', 'admin'] as const;

function Keys({ tenantId }: { tenantId: string }) {
  const keys = usePaged(
    (cursor) =>
      ok(
        api.GET('/v1/tenants/{tenant_id}/keys', {
          params: { path: { tenant_id: tenantId }, query: { cursor } },
        }),
      ),
    [tenantId],
  );
  const [scopes, setScopes] = useState<string[]>(['read']);
  const [issued, setIssued] = useState<string | null>(null);
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">API keys of {tenantId}</h2>
      <ProblemAlert problem={keys.problem} />
      <table>
        <caption class="sr-only">Keys</caption>
        <thead>
          <tr>
            <th scope="col">Key id</th>
            <th scope="col">Scopes</th>
            <th scope="col">Description</th>
            <th scope="col">Created</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {keys.items.map((key) => (
            <tr key={key.key_id}>
              <td class="mono">{key.key_id}</td>
              <td>{key.scopes.join(', ')}</td>
              <td>{key.description ?? ''}</td>
              <td>{formatTime(key.created_at)}</td>
              <td>
                {key.revoked_at ? (
                  <Badge tone="bad">revoked</Badge>
                ) : (
                  <ConfirmButton
                    label="Revoke"
                    title={`Revoke ${key.key_id}?`}
                    onConfirm={async () => {
                      await ok(
                        api.DELETE('/v1/tenants/{tenant_id}/keys/{key_id}', {
                          params: { path: { tenant_id: tenantId, key_id: key.key_id } },
                        }),
                      );
                      await keys.reload();
                    }}
                  >
                    <p>Every request with this key fails from now on.</p>
                  </ConfirmButton>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <MoreButton list={keys} />
      <fieldset class="panel">
        <legend>Issue a key</legend>
        {SCOPES.map((scope) => (
          <label key={scope} class="check">
            <input
              type="checkbox"
              checked={scopes.includes(scope)}
              onChange={(event) =>
                setScopes(
                  event.currentTarget.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope),
                )
              }
            />{' '}
            {scope}
          </label>
        ))}
        <ConfirmButton
          label="Issue key"
          title={`Issue a key for ${tenantId}?`}
          confirmDisabled={scopes.length === 0}
          onConfirm={async () => {
            const key = await ok(
              api.POST('/v1/tenants/{tenant_id}/keys', {
                params: { path: { tenant_id: tenantId } },
                body: { scopes: scopes as never },
              }),
            );
            setIssued(key.key);
            await keys.reload();
          }}
        />
        {issued && (
          <p role="status">
            New key (shown once, copy it now): <code>{issued}</code>
          </p>
        )}
      </fieldset>
    </section>
  );
}

function PolicyEditor({ tenantId }: { tenantId: string }) {
  const [text, setText] = useState('');
  const load = useAction();
  const path = { tenant_id: tenantId };
  useEffect(() => {
    void load.run(async () => {
      const { inherited: _inherited, ...policy } = await ok(
        api.GET('/v1/tenants/{tenant_id}/policy', { params: { path } }),
      );
      setText(JSON.stringify(policy, null, 2));
    });
  }, [tenantId]);
  return (
    <section aria-labelledby="policy-title">
      <h2 id="policy-title">Policy of {tenantId}</h2>
      <ProblemAlert problem={load.problem} />
      <label>
        Policy (JSON)
        <textarea
          rows={10}
          value={text}
          onInput={(event) => setText(event.currentTarget.value)}
          class="mono"
        />
      </label>
      <ConfirmButton
        label="Save policy"
        title="Replace the tenant policy?"
        onConfirm={async () => {
          const saved = await ok(
            api.PUT('/v1/tenants/{tenant_id}/policy', { params: { path }, body: JSON.parse(text) }),
          );
          const { inherited: _inherited, ...policy } = saved;
          setText(JSON.stringify(policy, null, 2));
        }}
      />
    </section>
  );
}

function Signers() {
  const signers = usePaged((cursor) => ok(api.GET('/v1/signers', { params: { query: { cursor } } })), []);
  const [keyId, setKeyId] = useState('');
  const [pem, setPem] = useState('');
  return (
    <section aria-labelledby="signers-title">
      <h2 id="signers-title">Trusted signers</h2>
      <ProblemAlert problem={signers.problem} />
      <ul>
        {signers.items.map((signer) => (
          <li key={signer.key_id}>
            <span class="mono">{signer.key_id}</span> {signer.description ?? ''} — added{' '}
            {formatTime(signer.created_at)}{' '}
            <ConfirmButton
              label={`Remove ${signer.key_id}`}
              title={`Stop trusting ${signer.key_id}?`}
              onConfirm={async () => {
                await ok(api.DELETE('/v1/signers/{key_id}', { params: { path: { key_id: signer.key_id } } }));
                await signers.reload();
              }}
            >
              <p>Packages signed only by this key no longer verify.</p>
            </ConfirmButton>
          </li>
        ))}
      </ul>
      <MoreButton list={signers} />
      <fieldset class="panel">
        <legend>Trust a signing key</legend>
        <label>
          Signer id <input value={keyId} onInput={(event) => setKeyId(event.currentTarget.value.trim())} />
        </label>
        <label>
          Public key (PEM)
          <textarea
            rows={4}
            value={pem}
            onInput={(event) => setPem(event.currentTarget.value)}
            class="mono"
          />
        </label>
        <ConfirmButton
          label="Add signer"
          title={`Trust ${keyId}?`}
          confirmDisabled={keyId === '' || pem === ''}
          onConfirm={async () => {
            await ok(api.POST('/v1/signers', { body: { key_id: keyId, public_key_pem: pem } }));
            setKeyId('');
            setPem('');
            await signers.reload();
          }}
        />
      </fieldset>
    </section>
  );
}
