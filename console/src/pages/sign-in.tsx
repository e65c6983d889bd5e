/** Sign in with an API key; it is checked with GET /v1/me and kept in sessionStorage only. */
import { useState } from 'preact/hooks';
import { api, ok } from '../api/client.ts';
import type { Me } from '../app.tsx';
import { signOut, storeKey } from '../session.ts';
import { ProblemAlert, useAction } from '../ui.tsx';

export function SignInPage({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [key, setKey] = useState('');
  const { busy, problem, run } = useAction();
  return (
    <main id="main" class="sign-in">
      <h1>pluginops console</h1>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          storeKey(key.trim());
          const me = await run(() => ok(api.GET('/v1/me')));
          if (me === undefined) signOut();
          else onSignedIn(me);
        }}
      >
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={key}
          onInput={(event) => setKey(event.currentTarget.value)}
          required
        />
        <p class="hint">The key stays in this tab's session storage and is sent only to this API.</p>
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      <ProblemAlert problem={problem} />
    </main>
  );
}
