/**
 * The fault proxy logs the start and the end of every fault (issue 14, item 10), so a chaos
 * run can be read against the devices' own logs, and throttles those lines so random mode on
 * a big fleet cannot flood the terminal. Real sockets: an echo server behind the proxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultEnd, type FaultProxy } from '../../tools/chaos/proxy.ts';
import { captureLog, type LogLine } from '../fixtures/capture-log.ts';
import { until } from '../support/mqtt.ts';
import { connect, startEchoServer, type EchoServer } from './sockets.ts';

let echo: EchoServer;
beforeAll(async () => {
  echo = await startEchoServer();
});
afterAll(() => echo.close());

async function loggedProxy(): Promise<{ proxy: FaultProxy; lines: LogLine[]; ends: FaultEnd[] }> {
  const { log, lines } = captureLog();
  const ends: FaultEnd[] = [];
  const proxy = await startFaultProxy({
    target: { host: '127.0.0.1', port: echo.port },
    seed: 1,
    log,
    onFaultEnd: (e) => ends.push(e),
  });
  return { proxy, lines, ends };
}

const messages = (lines: LogLine[]) => lines.filter((l) => l.level === 30).map((l) => l.msg);
const logged = (lines: LogLine[], pattern: RegExp) => messages(lines).some((m) => pattern.test(m));

describe('fault proxy: the log says when each fault starts and ends', () => {
  it('a timed black hole on one connection: start with its duration, end when it heals', async () => {
    const { proxy, lines, ends } = await loggedProxy();
    const client = await connect(proxy.port);
    await until(() => proxy.links().length === 1, 'the connection accepted');
    proxy.inject({ kind: 'blackhole', durationMs: 300 }, proxy.links()[0]!.id);
    expect(messages(lines)).toContain('blackhole for 300 ms on connection 1 (manual)');
    await until(() => logged(lines, /^blackhole on connection 1 ended after \d+ ms: healed/), 'the end line');
    expect(ends[0]).toMatchObject({ kind: 'blackhole', links: [1], scope: 'link', how: 'healed' });
    expect(ends[0]!.lastedMs).toBeGreaterThanOrEqual(290);
    client.socket.destroy();
    await proxy.close();
  });

  it('a black hole the client gives up on: the end says the connection closed', async () => {
    const { proxy, lines } = await loggedProxy();
    const client = await connect(proxy.port);
    await until(() => proxy.links().length === 1, 'the connection accepted');
    proxy.blackhole(60_000);
    expect(messages(lines)).toContain('blackhole for 60000 ms on all connections (1) (manual)');
    client.socket.destroy(); // what a device's keep-alive does to a dead link
    await until(
      () =>
        logged(
          lines,
          /^blackhole on connection 1 ended after \d+ ms: the client closed its side: it gave up on the dead link$/,
        ),
      'the end line',
    );
    proxy.heal();
    expect(messages(lines).at(-1)).toMatch(/^blackhole on all connections ended after \d+ ms: healed \(1 connection\)/);
    await proxy.close();
  });

  it('reset and drop: ended once both sides have closed', async () => {
    const { proxy, lines } = await loggedProxy();
    const a = await connect(proxy.port);
    await until(() => proxy.links().length === 1, 'the first connection');
    proxy.inject({ kind: 'reset' }, 1);
    await a.ended;
    await until(() => logged(lines, /^reset on connection 1 ended after \d+ ms: both sides closed/), 'the reset end');
    const b = await connect(proxy.port);
    await until(() => proxy.links().length === 1, 'the second connection');
    proxy.dropAll();
    await b.ended;
    b.socket.destroy();
    await until(() => logged(lines, /^drop on connection 2 ended after \d+ ms: both sides closed/), 'the drop end');
    expect(messages(lines)).toEqual(
      expect.arrayContaining(['reset on connection 1 (manual)', 'drop on all connections (2) (manual)']),
    );
    await proxy.close();
  });

  it('a delay window and a refused listener: each ends with a line', async () => {
    const { proxy, lines } = await loggedProxy();
    proxy.inject({ kind: 'delay', delayMs: 50, durationMs: 200 });
    expect(messages(lines)).toContain('delay 50 ms for 200 ms on all connections (none live) (manual)');
    await until(
      () => logged(lines, /^delay on all connections ended after 200 ms: back to the standing latency/),
      'the delay end',
    );
    proxy.pause(200);
    expect(messages(lines)).toContain('refuse for 200 ms (new connections refused) (manual)');
    await until(
      () => logged(lines, /^refuse ended after \d+ ms: listening again, new connections accepted/),
      'the refuse end',
    );
    await proxy.close();
  });

  it('throttles a flood of fault lines and says how many it held back', async () => {
    const { proxy, lines } = await loggedProxy();
    for (let i = 0; i < 200; i++) proxy.resetAll();
    const first = messages(lines).filter((m) => m.startsWith('reset on all connections'));
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThanOrEqual(21);
    await until(() => logged(lines, /more fault lines suppressed/), 'the summary line', 3000);
    const summary = lines.find((l) => /more fault lines suppressed/.test(l.msg))!;
    expect(summary.msg).toBe(
      `${200 - first.length} more fault lines suppressed in the last 1 s: reset started ${200 - first.length}`,
    );
    // Every fault is still counted, and still reaches onFault: only the log is thinned.
    expect(proxy.stats().faults.reset).toBe(200);
    await proxy.close();
  });

  it('close() writes what the throttle still held', async () => {
    const { proxy, lines } = await loggedProxy();
    for (let i = 0; i < 50; i++) proxy.dropAll();
    await proxy.close();
    expect(logged(lines, /^\d+ more fault lines suppressed in the last 1 s: drop started \d+$/)).toBe(true);
  });
});
