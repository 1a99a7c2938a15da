/**
 * Issue 14, item 11, on the firmware's side: the terminal panel after a resize and after boot,
 * the keyboard's help, a createdAt in seconds, and an MQTT client pointed at the HTTP API port.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { stripVTControlCharacters } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTerminalPanel } from '../../device/drivers/terminal-panel.ts';
import { createKeyboard, KEY_HELP } from '../../device/drivers/keyboard.ts';
import { Speaker } from '../../device/speaker.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { checkFreshness, FRESHNESS_DEFAULTS } from '../../src/protocol/signing.ts';
import { describeWrongPort } from '../../src/mqtt/wrong-port.ts';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import type { DisplayInfo } from '../../device/board.ts';
import { captureLog } from '../fixtures/capture-log.ts';
import { until } from '../support/mqtt.ts';

/** A terminal that records what is written and can be resized. */
function fakeTerminal(columns: number) {
  const out = Object.assign(new EventEmitter(), { columns, written: '' as string });
  const write = (s: string) => ((out.written += s), true);
  return Object.assign(out, { write }) as typeof out & { write: typeof write };
}

const INFO: DisplayInfo = { device: 'SPK-0001', state: 'online', volume: 7, queue: 0, lastPayment: null };

describe('terminal panel', () => {
  it('never draws a line wider than the terminal', () => {
    const term = fakeTerminal(40);
    const panel = createTerminalPanel(term, 'SPK-0001');
    panel.show(INFO);
    const lines = term.written.split('\n').filter(Boolean);
    for (const line of lines) expect(stripVTControlCharacters(line).length).toBeLessThan(40);
  });

  it('erases every row the terminal re-wrapped after it got narrower, then redraws at the new width', () => {
    const term = fakeTerminal(100);
    const panel = createTerminalPanel(term, 'SPK-0001');
    panel.show(INFO);
    term.written = '';
    term.columns = 30; // the 78-cell key help now takes 3 rows, the status line 2
    term.emit('resize');
    // Three lines drawn at 100 columns (widths 45, 24, 78) re-wrap to 2 + 1 + 3 rows at 30.
    expect(term.written.startsWith('\x1b[6A\x1b[0J')).toBe(true);
    panel.close();
    term.written = '';
    term.emit('resize'); // closed: no longer listening
    expect(term.written).toBe('');
  });

  it('shows queue 0 once the boot prompts have played', { timeout: 30_000 }, async () => {
    const shown: DisplayInfo[] = [];
    const board = { ...createHeadlessBoard(), display: { show: (i: DisplayInfo) => void shown.push(i) } };
    // No broker: the power-on prompt alone must not leave "queue 1" behind.
    const speaker = new Speaker({
      id: 'SPK-QUEUE',
      brokerUrl: 'mqtt://127.0.0.1:1',
      lang: 'zh-CN',
      board,
      voice: createTtsVoice(createEspeakEngine()),
      backoff: { baseMs: 60_000, capMs: 60_000 },
    });
    await speaker.boot();
    await speaker.idle();
    // Without a redraw after the prompt, the display kept its last "queue 1" for good.
    await until(() => shown.at(-1)?.queue === 0, `queue 0 on the display; shown ${JSON.stringify(shown)}`, 5000);
    await speaker.stop();
  });
});

describe('keyboard', () => {
  function fakeStdin() {
    return Object.assign(new EventEmitter(), {
      isTTY: true,
      setRawMode: () => fakeStdin as never,
      resume: () => fakeStdin as never,
      pause: () => fakeStdin as never,
    });
  }

  it('? and h show the key help; an unknown key says it is not one; a known key presses its button', () => {
    const input = fakeStdin();
    const help: string[] = [];
    const pressed: string[] = [];
    const keyboard = createKeyboard(
      input as never,
      () => undefined,
      (t) => help.push(t),
    );
    keyboard.onPress((b) => pressed.push(b));
    input.emit('data', Buffer.from('?h'));
    expect(help).toEqual([KEY_HELP, KEY_HELP]);
    input.emit('data', Buffer.from('x'));
    expect(help[2]).toBe(`"x" is not a key of this speaker; ${KEY_HELP}`);
    input.emit('data', Buffer.from('\r'));
    expect(help).toHaveLength(3);
    input.emit('data', Buffer.from('+'));
    expect(pressed).toEqual(['volume-up']);
    keyboard.close();
  });
});

describe('a createdAt in seconds', () => {
  it('is rejected with a hint that the protocol uses epoch milliseconds', () => {
    const now = Date.UTC(2026, 11, 5);
    const r = checkFreshness(Math.floor(now / 1000), now, FRESHNESS_DEFAULTS);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.detail).toContain('createdAt looks like seconds: the protocol uses epoch milliseconds');
    // Milliseconds that are merely old get no such hint.
    const old = checkFreshness(now - 48 * 3600_000, now, FRESHNESS_DEFAULTS);
    expect(!old.ok && old.detail).not.toContain('seconds');
  });
});

describe('an MQTT client pointed at the HTTP API port', () => {
  let broker: RunningBroker;
  let httpPort: number;
  beforeAll(async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-wrong-port-'));
    broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: 0, service: { dataDir, httpPort: 0 } });
    httpPort = Number(new URL(broker.service!.httpUrl!).port);
  });
  afterAll(() => broker.close());

  it('gets words that name the port, from MQTT.js and from the speaker', { timeout: 20_000 }, async () => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${httpPort}`, { reconnectPeriod: 0 });
    const err = await new Promise<Error>((resolve) => client.once('error', resolve));
    client.end(true);
    expect(describeWrongPort(err)).toBe(
      "this port answers HTTP, not MQTT: it is the broker's HTTP API port; MQTT is on --port (1883 by default)",
    );

    const { log, lines } = captureLog();
    const speaker = new Speaker({
      id: 'SPK-PORT',
      brokerUrl: `mqtt://127.0.0.1:${httpPort}`,
      lang: 'zh-CN',
      board: createHeadlessBoard(),
      voice: createTtsVoice(createEspeakEngine()),
      settings: { prompts: false },
      backoff: { baseMs: 60_000, capMs: 60_000 },
      log,
    });
    await speaker.boot();
    await until(() => lines.some((l) => String(l.err).includes("it is the broker's HTTP API port")), 'the words');
    await speaker.stop();
  });

  it('is answered by the HTTP server with the same words and the MQTT address', async () => {
    const socket = net.connect(httpPort, '127.0.0.1');
    // An MQTT 3.1.1 CONNECT (client id "", clean session, keep-alive 60 s).
    socket.write(Buffer.from([0x10, 0x0c, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 0]));
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString('utf8')));
    await new Promise((resolve) => socket.on('close', resolve));
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(reply).toContain('"code":"mqtt-on-http-port"');
    expect(reply).toContain(`here ${broker.mqttUrl}`);
  });
});
