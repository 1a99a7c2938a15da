/**
 * Where the CLI points people at the web console: `payspeaker broker` prints its URL (and, with
 * --json, carries it in the listening event), and `payspeaker demo --keep-open` stays up with it
 * until Ctrl-C. The URL must answer with the console (its Content-Security-Policy), not the API.
 */
import { describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../support/cli.ts';

const CONSOLE_URL = /^http:\/\/127\.0\.0\.1:\d+\/$/;

async function expectConsoleAt(url: string): Promise<string> {
  const res = await fetch(url);
  const csp = res.headers.get('content-security-policy');
  expect(csp, `GET ${url}`).toMatch(/^default-src 'self'; script-src 'self';/);
  await res.arrayBuffer();
  return csp!;
}

describe('payspeaker broker and the web console', () => {
  it('carries the console URL in the --json listening event, and serves the console there', async () => {
    const broker = new CliProcess(['broker', '--port', '0', '--ws-port', '0', '--insecure', '--json']);
    try {
      const e = await broker.waitForEvent<{ http: string; ws: string; console: string }>(
        (x) => x.event === 'listening',
      );
      expect(e.console).toMatch(CONSOLE_URL);
      expect(e.console).toBe(`${e.http}/`);
      // The page's speakers may reach the broker's WebSocket listener, and no other socket.
      const ws = new URL(e.ws);
      expect(await expectConsoleAt(e.console)).toContain(`connect-src 'self' ws://${ws.host};`);
    } finally {
      expect(await broker.stop()).toBe(0);
    }
  });

  it('prints the console URL on start, with what the console will ask for', async () => {
    const insecure = new CliProcess(['broker', '--port', '0', '--ws-port', '0', '--insecure']);
    const secure = new CliProcess(['broker', '--port', '0', '--ws-port', '0']);
    try {
      const open = await insecure.waitForLine(/^console: /);
      expect(open).toMatch(
        /^console: http:\/\/127\.0\.0\.1:\d+\/ \(open it in a browser; no login: this broker is --insecure\)$/,
      );
      await expectConsoleAt(open.split(' ')[1]!);
      const locked = await secure.waitForLine(/^console: /);
      expect(locked).toMatch(
        /^console: http:\/\/127\.0\.0\.1:\d+\/ \(open it in a browser; log in with the backend token: the "password" in .*backend\.json\)$/,
      );
    } finally {
      expect(await insecure.stop()).toBe(0);
      expect(await secure.stop()).toBe(0);
    }
  });

  it('prints no console URL without the HTTP port', async () => {
    const broker = new CliProcess(['broker', '--port', '0', '--no-ws-port', '--no-http-port', '--insecure', '--json']);
    try {
      const e = await broker.waitForEvent<{ console: unknown }>((x) => x.event === 'listening');
      expect(e.console).toBeNull();
    } finally {
      expect(await broker.stop()).toBe(0);
    }
  });

  it('says in --help that the HTTP port serves the console', async () => {
    const help = await runCli(['broker', '--help']);
    // Commander wraps to the terminal's width: compare the words.
    const text = help.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('port for payment backends, also serving the web console at /');
    expect(text).toContain('do not serve the notification API or the web console');
  });
});

describe('payspeaker demo --keep-open', () => {
  it('announces the samples, then keeps the broker and its console up until Ctrl-C', async () => {
    const demo = new CliProcess(['demo', '--audio', 'none', '--keep-open', '--json']);
    try {
      const e = await demo.waitForEvent<{ url: string; token: string }>((x) => x.event === 'console', 60_000);
      expect(demo.lines.filter((l) => l.includes('"announced"'))).toHaveLength(3);
      expect(e.url).toMatch(CONSOLE_URL);
      // Open for a speaker in the tab: the demo's broker now has a WebSocket listener.
      expect(await expectConsoleAt(e.url)).toMatch(/connect-src 'self' ws:\/\/127\.0\.0\.1:\d+;/);
      // The printed token is the API's: the console logs in with it.
      const device = await fetch(new URL('/v1/devices/SPK-DEMO', e.url), {
        headers: { authorization: `Bearer ${e.token}` },
      });
      expect(device.status).toBe(200);
    } finally {
      expect(await demo.stop('SIGINT')).toBe(0);
    }
  });

  it('lists --keep-open in --help', async () => {
    const help = await runCli(['demo', '--help']);
    expect(help.stdout).toContain('--keep-open');
    expect(help.stdout).toContain('npx payspeaker demo --keep-open');
  });
});
