/**
 * The login of a secure broker: the backend's API token, the same secret the payment backend
 * uses (DIR/broker/backend.json's password). It is checked against the API before anything
 * else is fetched, and kept in sessionStorage only.
 */
import { useState } from 'preact/hooks';

interface Props {
  message: string | null;
  checking: boolean;
  version?: string;
  onSubmit(token: string): void;
}

export function Login({ message, checking, version, onSubmit }: Props) {
  const [token, setToken] = useState('');
  return (
    <>
      <header class="top">
        <h1>payspeaker console</h1>
        {version && <p class="version">broker {version}</p>}
      </header>
      <main id="main" class="shell">
        <form
          class="card login"
          aria-labelledby="login-title"
          onSubmit={(e) => {
            e.preventDefault();
            if (token.trim()) onSubmit(token.trim());
          }}
        >
          <h2 id="login-title">Log in to this broker</h2>
          <p>This broker is secure: the console needs the backend's API token before it shows anything.</p>
          {/* The token is the password of the identity "backend": a password manager can file it so. */}
          <input type="text" name="username" autoComplete="username" value="backend" readOnly hidden />
          <label for="login-token">Backend API token</label>
          <input
            id="login-token"
            name="token"
            type="password"
            autoComplete="current-password"
            required
            value={token}
            aria-describedby="login-help login-error"
            aria-invalid={message ? 'true' : undefined}
            onInput={(e) => setToken(e.currentTarget.value)}
          />
          <p id="login-help" class="help">
            It is the <code>password</code> in <code>DIR/broker/backend.json</code> (by default{' '}
            <code>~/.local/share/payspeaker/broker/backend.json</code>): run{' '}
            <code>node -p "require(process.env.HOME + '/.local/share/payspeaker/broker/backend.json').password"</code>,
            or look at what <code>npx payspeaker broker</code> printed when it started. The token stays in this tab only
            (sessionStorage).
          </p>
          <p id="login-error" role="alert" class="error">
            {message}
          </p>
          <button type="submit" class="primary" disabled={checking}>
            {checking ? 'Checking…' : 'Log in'}
          </button>
        </form>
      </main>
    </>
  );
}
