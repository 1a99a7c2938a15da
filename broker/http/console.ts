/**
 * The web console (issue 13), served by the notification API's own port at `/`: the page
 * (console/index.html) and its script and styles, bundled by esbuild from console/main.tsx in
 * memory. No build step a user must remember and nothing written to disk: an npm install may
 * leave the package folder read-only, and a stale build on disk would outlive an upgrade.
 *
 * The bundle is made on the first console request (the page's own GET / starts it, so the
 * script is ready by the time the browser asks for it) and kept for the broker's lifetime;
 * concurrent first requests share one build. Brokers that nobody opens a console on (tests,
 * fleets, production backends) never pay for esbuild.
 *
 * Every console response carries a strict Content-Security-Policy: scripts, styles and fetches
 * from this origin only, plus the broker's own MQTT WebSocket listeners (a speaker in the tab
 * connects there, on another port), and nothing from a third party: the console works on a
 * plane. No inline script, no eval (a bundled library that probes for eval, like zod's JIT
 * check, must be told not to: the probe itself is a reported violation).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Message } from 'esbuild';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../src/log.ts';
import { errorBody } from './errors.ts';
import type { MqttEndpoints } from './info.ts';

/** console/ in this package, found from this file (a clean clone, or node_modules/payspeaker after an npm install). */
export const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

export interface ConsoleOptions {
  log: Logger;
  /** The folder with index.html (and styles.css, served as is when the script imports no CSS). Default CONSOLE_DIR. */
  dir?: string;
  /** The script's entry point. Default DIR/main.tsx. */
  entry?: string;
  /** The broker's MQTT listeners: the Content-Security-Policy lets the page reach the WebSocket ones. */
  mqtt?: MqttEndpoints;
}

/** The URLs the console answers; everything else (/v1/…) stays the API's. */
const ASSET_TYPES = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'console.js.map': 'application/json; charset=utf-8',
  'console.css.map': 'application/json; charset=utf-8',
} as const;
type AssetName = keyof typeof ASSET_TYPES | 'index.html';

/**
 * A failed bundle is answered from memory for this long before it is tried again: a developer
 * who fixes the source and reloads gets the new bundle, a page reloading in a loop does not make
 * the broker run esbuild on every request.
 */
const RETRY_AFTER_FAILURE_MS = 2000;

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

type Bundle = { ok: true; assets: Map<AssetName, Asset> } | { ok: false; message: string; at: number };

export function consoleRoutes(app: FastifyInstance, opts: ConsoleOptions): void {
  const dir = opts.dir ?? CONSOLE_DIR;
  const bundle = new ConsoleBundle(dir, opts.entry ?? path.join(dir, 'main.tsx'), opts.log);
  const serve = (name: AssetName) => async (req: FastifyRequest, reply: FastifyReply) => {
    reply.headers(securityHeaders(opts.mqtt, req.headers.host));
    // Revalidate every time: the URLs carry no content hash, and an upgraded broker serves a new bundle.
    reply.header('cache-control', 'no-cache');
    const b = await bundle.get();
    if (!b.ok) return reply.code(500).send(errorBody('console-unavailable', b.message));
    const asset = b.assets.get(name);
    if (!asset)
      return reply
        .code(404)
        .send(
          errorBody(
            'not-found',
            `the web console has no ${name}: esbuild made none from ${path.basename(bundle.entry)}, and ${dir} has no styles.css`,
          ),
        );
    reply.header('etag', asset.etag).header('content-type', asset.type);
    if (matches(req.headers['if-none-match'], asset.etag)) return reply.code(304).send();
    return reply.send(asset.body);
  };
  // `/?speaker=SPK-WEB-1` is the same page: the query is the page's to read (a deep link).
  app.get('/', serve('index.html'));
  for (const name of Object.keys(ASSET_TYPES) as (keyof typeof ASSET_TYPES)[]) app.get(`/${name}`, serve(name));
  // Browsers ask for it on every page; a 404 would be an error line in every console session.
  // No icon (yet) is said with 204, which they take quietly.
  app.get('/favicon.ico', async (req, reply) =>
    reply
      .headers(securityHeaders(opts.mqtt, req.headers.host))
      .header('cache-control', 'max-age=86400')
      .code(204)
      .send(),
  );
}

/** The headers on every console response, the error answers included. */
export function securityHeaders(mqtt: MqttEndpoints | undefined, host: string | undefined): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(mqtt, host),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}

/**
 * `connect-src` names the WebSocket listeners exactly (scheme, host, port) rather than allowing
 * every ws: and wss: URL: an injected script could otherwise send what it read to any socket on
 * the internet. `'self'` covers the API and its event stream.
 */
export function contentSecurityPolicy(mqtt: MqttEndpoints | undefined, host: string | undefined): string {
  const sockets = [mqtt?.ws, mqtt?.wss]
    .filter((u): u is string => typeof u === 'string')
    .map((u) => socketSource(u, host))
    .filter((s): s is string => s !== null);
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    ["connect-src 'self'", ...sockets].join(' '),
    "img-src 'self' data:",
    "media-src 'self' blob:",
    // MQTT.js keeps its keepalive timers in a Web Worker made from a blob: URL (the worker-timers
    // package), because a background tab's own timers are throttled to once a minute and the
    // broker would drop a speaker whose PINGREQ came late ([MQTT-3.1.2-24]). Only script
    // already running in the page can make a blob: URL, so this admits nothing script-src refuses.
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; ');
}

/**
 * `ws://host:port` for a listener URL. A listener on every interface (0.0.0.0, ::) has no host a
 * page can dial: GET /v1/info gives the page the host name it reached the API by, so the policy
 * names that one too. A Host header that is not a plain host name is left out (it goes into a
 * response header, where a `;` would start a directive of its own).
 */
function socketSource(url: string, host: string | undefined): string | null {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') {
    const name = host?.replace(/:\d+$/, '');
    if (!name || !/^([a-z0-9-]+\.)*[a-z0-9-]+$|^\[[0-9a-f:.]+\]$/i.test(name)) return null;
    u.hostname = name;
  }
  return `${u.protocol}//${u.host}`;
}

/** If-None-Match against our strong ETag (RFC 9110 §13.1.2: weak comparison, so `W/` matches too). */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

class ConsoleBundle {
  private result: Bundle | null = null;
  private pending: Promise<Bundle> | null = null;
  /** Failures already in the broker log: a broken source is logged once, not on every reload. */
  private readonly logged = new Set<string>();

  constructor(
    private readonly dir: string,
    readonly entry: string,
    private readonly log: Logger,
  ) {}

  get(): Promise<Bundle> {
    const r = this.result;
    if (r && (r.ok || Date.now() - r.at < RETRY_AFTER_FAILURE_MS)) return Promise.resolve(r);
    return (this.pending ??= this.make().then((b) => {
      this.result = b;
      this.pending = null;
      return b;
    }));
  }

  /** Never rejects: a console that cannot be built is a 500 for the page, never a crash of the broker. */
  private async make(): Promise<Bundle> {
    const started = Date.now();
    try {
      const assets = new Map<AssetName, Asset>();
      const html = await readOrNull(path.join(this.dir, 'index.html'));
      if (html === null)
        return this.failed(
          `the web console is not installed: ${path.join(this.dir, 'index.html')} is missing (reinstall payspeaker, or restore console/ from git)`,
        );
      assets.set('index.html', asset(html, 'text/html; charset=utf-8'));
      const out = await build({
        entryPoints: { console: this.entry },
        bundle: true,
        write: false,
        // Error locations relative to the package ("console/main.tsx:3:5"), wherever the broker was started.
        absWorkingDir: path.dirname(path.resolve(this.dir)),
        // Names the outputs (console.js, console.css, their maps); nothing is written there.
        outdir: this.dir,
        platform: 'browser',
        format: 'esm',
        target: 'es2022',
        jsx: 'automatic',
        jsxImportSource: 'preact',
        minify: true,
        sourcemap: 'linked',
        // The prompts are Chinese: UTF-8 as is is a third of the bytes of \u escapes.
        charset: 'utf8',
        logLevel: 'silent',
      });
      for (const f of out.outputFiles) {
        const name = path.basename(f.path);
        if (name in ASSET_TYPES)
          assets.set(name as AssetName, asset(Buffer.from(f.contents), ASSET_TYPES[name as keyof typeof ASSET_TYPES]));
      }
      // The script imports no CSS: the page's styles are console/styles.css as written.
      if (!assets.has('console.css')) {
        const css = await readOrNull(path.join(this.dir, 'styles.css'));
        if (css !== null) assets.set('console.css', asset(css, ASSET_TYPES['console.css']));
      }
      const bytes = [...assets.values()].reduce((n, a) => n + a.body.length, 0);
      this.log.info({ entry: this.entry, bytes, ms: Date.now() - started }, 'web console bundled');
      return { ok: true, assets };
    } catch (err) {
      const errors = (err as { errors?: Message[] }).errors;
      const what = errors?.length ? errors.slice(0, 5).map(describeMessage).join('; ') : (err as Error).message;
      return this.failed(
        `the web console could not be bundled from ${this.entry}: ${what}. Fix the source and reload the page (the broker keeps running and tries again)`,
      );
    }
  }

  private failed(message: string): Bundle {
    if (!this.logged.has(message)) {
      this.logged.add(message);
      this.log.error({ entry: this.entry }, message);
    }
    return { ok: false, message, at: Date.now() };
  }
}

function describeMessage(m: Message): string {
  const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
  return `${where}${m.text}`;
}

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
