/**
 * What `payspeaker broker` says when it starts: the listening line, the console's URL and what
 * to log in with, and one warning when unencrypted listeners face a network. Kept apart from the
 * command's options and start-up (broker.ts).
 */

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/**
 * One warning when plain (unencrypted) listeners face a network: device secrets, the backend's
 * token and every payment would cross it readable by anyone on the path. Null on loopback, or
 * when nothing plain listens.
 */
export function plainListenersWarning(
  host: string,
  plain: { mqtt: string | null; ws: string | null; http: string | null },
): string | null {
  if (isLoopback(host)) return null;
  const names = [
    plain.mqtt && `MQTT (${plain.mqtt})`,
    plain.ws && `WebSocket (${plain.ws})`,
    plain.http && `the HTTP API (${plain.http})`,
  ].filter((n): n is string => Boolean(n));
  if (names.length === 0) return null;
  const where = host === '0.0.0.0' || host === '::' ? `${host}, every network interface` : host;
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : names[0];
  const fixes = [
    (plain.mqtt || plain.ws) &&
      'run "npx payspeaker certs" and start the broker with --tls --tls-only so devices use mqtts/wss',
    plain.http &&
      'the HTTP API has no TLS of its own: put a TLS-terminating proxy in front of it, or pass --no-http-port',
  ].filter(Boolean);
  return `listening on ${where}: ${list} ${names.length > 1 ? 'are' : 'is'} reachable from the network unencrypted, so passwords, the backend's token and payments can be read on the way: ${fixes.join('; ')}`;
}

/** Where to point a browser, and what the console will ask for there. */
export function consoleLine(url: string, backendCredentials: string | null): string {
  const login = backendCredentials
    ? `log in with the backend token: the "password" in ${backendCredentials}`
    : 'no login: this broker is --insecure';
  return `console: ${url} (open it in a browser; ${login})`;
}

export function listeningLine(urls: string[], registry: string | null, api: string | null, tlsOnly: boolean): string {
  const listening = `broker listening on ${urls.length > 1 ? `${urls.slice(0, -1).join(', ')} and ${urls.at(-1)}` : urls[0]}${tlsOnly ? ' (TLS only: no plain MQTT or WebSocket listener)' : ''}`;
  const access = registry
    ? `devices need credentials (npx payspeaker provision ID); registry ${registry}`
    : 'INSECURE: no credentials needed';
  const payments = api ? `; payments API on ${api}/v1/payments` : '';
  return `${listening}${payments}; ${access} (Ctrl-C to stop)`;
}
