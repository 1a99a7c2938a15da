/**
 * The device's connection state machine and reconnect backoff, driven by vitest's fake timers
 * against a broker address that refuses connections (real sockets; only the timers are fake).
 * With randomness pinned near 1 every wait is at its ceiling: 1 s, 2 s, 4 s … capped at 60 s.
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Speaker } from '../../device/speaker.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { startTestBroker } from '../support/broker.ts';
import { startBroker } from '../../broker/broker.ts';
import type { DeviceState } from '../../device/state-machine.ts';

/** A loopback port with nothing listening: connections are refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

async function settle(check: () => boolean, what: string): Promise<void> {
  // Real socket I/O still needs real time; only setTimeout is faked.
  for (let i = 0; i < 20_000 && !check(); i++) await new Promise((r) => setImmediate(r));
  if (!check()) throw new Error(`never reached: ${what}`);
}

afterEach(() => vi.useRealTimers());

describe('reconnect with backoff', () => {
  it('waits exactly the backoff delay before each attempt, doubling to the 60 s cap, and resets once online', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const port = await closedPort();
    const speaker = new Speaker({
      id: 'SPK-BACKOFF',
      brokerUrl: `mqtt://127.0.0.1:${port}`,
      lang: 'zh-CN',
      board: createHeadlessBoard(),
      voice: createTtsVoice(createEspeakEngine()),
      settings: { prompts: false },
      backoff: { random: () => 0.999999 },
    });
    const states: DeviceState[] = [];
    speaker.on('event', (e) => e.event === 'state' && states.push(e.state));
    await speaker.boot();

    const ceilings = [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000];
    for (const ceiling of ceilings) {
      await settle(() => speaker.state === 'offline', 'offline after a refused connect');
      const attempts = states.filter((s) => s === 'connecting').length;
      vi.advanceTimersByTime(ceiling - 2); // just short of the delay: no new attempt yet
      await new Promise((r) => setImmediate(r));
      expect(states.filter((s) => s === 'connecting').length).toBe(attempts);
      vi.advanceTimersByTime(2);
      await settle(
        () => states.filter((s) => s === 'connecting').length === attempts + 1,
        `the attempt after ${ceiling} ms`,
      );
    }
    expect(states.slice(0, 4)).toEqual(['connecting', 'offline', 'connecting', 'offline']);

    // A broker appears on that port: the next attempt gets online, and the backoff starts over.
    const broker = await startBroker({ host: '127.0.0.1', port, wsPort: null });
    await settle(() => speaker.state === 'offline', 'offline');
    vi.advanceTimersByTime(60_000);
    await settle(() => speaker.state === 'online', 'online');
    await broker.close();
    await settle(() => speaker.state === 'offline', 'offline again');
    const attempts = states.filter((s) => s === 'connecting').length;
    vi.advanceTimersByTime(1000);
    await settle(() => states.filter((s) => s === 'connecting').length === attempts + 1, 'a retry after 1 s, not 60 s');
    await speaker.stop();
  });

  it('goes booting → connecting → online, and offline → connecting again when the broker goes away', async () => {
    const broker = await startTestBroker();
    const speaker = new Speaker({
      id: 'SPK-STATES',
      brokerUrl: broker.mqttUrl,
      lang: 'zh-CN',
      board: createHeadlessBoard(),
      voice: createTtsVoice(createEspeakEngine()),
      settings: { prompts: false },
      backoff: { baseMs: 50, capMs: 100 },
    });
    const states: DeviceState[] = [];
    speaker.on('event', (e) => e.event === 'state' && states.push(e.state));
    await speaker.start();
    await broker.close();
    await settle(() => states.includes('offline'), 'offline');
    await vi.waitFor(() => expect(states.filter((s) => s === 'connecting').length).toBeGreaterThanOrEqual(2));
    expect(states.slice(0, 4)).toEqual(['connecting', 'online', 'offline', 'connecting']);
    await speaker.stop();
  });
});
