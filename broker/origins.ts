/**
 * Which browser pages may open an MQTT-over-WebSocket connection (issue 12, item 6).
 *
 * A browser attaches an `Origin` header to every WebSocket upgrade it makes, naming the page
 * that asked for it; any page on the internet can ask for ws://127.0.0.1:8080/mqtt, and the
 * browser will connect unless the server refuses. Non-browser clients (MQTT.js in Node, the
 * speakers, mosquitto) send no `Origin`, so a missing header is accepted. A present one must be
 * on the allow list: origins given by configuration (`broker --ws-origin`), plus the broker's
 * own HTTP API origin, where a web console will be served. `*` allows every origin.
 *
 * Origins are compared in their serialized form (RFC 6454): lower-case scheme and host, the
 * port only when it is not the scheme's default, no path. The Host header is never trusted to
 * decide "same origin": a DNS-rebinding page would pass that check.
 */

export class OriginError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OriginError';
  }
}

/** `scheme://host[:port]` in its serialized form; throws an OriginError for anything else. */
export function normalizeOrigin(text: string): string {
  const given = text.trim();
  if (given === '*') return '*';
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new OriginError(
      `${JSON.stringify(text)} is not an origin: give scheme://host[:port], e.g. http://127.0.0.1:8081`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new OriginError(
      `${JSON.stringify(text)} is not a web page's origin: it must start with http:// or https:// (a browser sends the page's origin, not ws://)`,
    );
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== ''))
    throw new OriginError(
      `${JSON.stringify(text)} is not an origin: give only scheme://host[:port], without a path, query or user`,
    );
  return url.origin;
}

/** What a browser's Origin header looks like when parsed; null for `null` or nonsense. */
function parseOriginHeader(header: string): string | null {
  try {
    return normalizeOrigin(header);
  } catch {
    return null;
  }
}

export type OriginVerdict = { ok: true } | { ok: false; origin: string };

/** The allow list the WebSocket listeners consult on every upgrade. */
export class OriginPolicy {
  private readonly allowed = new Set<string>();
  private any = false;

  constructor(origins: Iterable<string> = []) {
    for (const o of origins) this.allow(o);
  }

  /** Adds an origin (validated; `*` allows all). */
  allow(origin: string): void {
    const o = normalizeOrigin(origin);
    if (o === '*') this.any = true;
    else this.allowed.add(o);
  }

  /** The allowed origins, for the startup log. */
  list(): string[] {
    return this.any ? ['*'] : [...this.allowed];
  }

  /** No header: a non-browser client, accepted. A header: accepted only if on the list. */
  check(header: string | undefined): OriginVerdict {
    if (header === undefined || this.any) return { ok: true };
    const origin = parseOriginHeader(header);
    if (origin !== null && origin !== '*' && this.allowed.has(origin)) return { ok: true };
    return { ok: false, origin: header };
  }
}

/**
 * The origins a page served by the broker's own HTTP API would have: its URL's origin and, when
 * it listens on a loopback address, the same port on `localhost` too (a browser on the broker's
 * machine may use either name). A wildcard listen address (0.0.0.0, ::) names no page: origins
 * for real host names must be configured.
 */
export function ownHttpOrigins(httpUrl: string): string[] {
  const url = new URL(httpUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '0.0.0.0' || host === '::') return [];
  const origins = [url.origin];
  if (host === '127.0.0.1' || host === '::1')
    origins.push(`${url.protocol}//localhost${url.port ? `:${url.port}` : ''}`);
  return origins;
}
