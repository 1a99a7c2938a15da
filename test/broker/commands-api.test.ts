/**
 * POST /v1/devices/:id/commands against a real secure broker and a real provisioned speaker
 * that trusts only the backend's key: the command the API signs is run (its volume changes),
 * its result comes back with ?wait=, and every refusal names the value and what to do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { loadOrCreateBackendKeys } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { openRegistry } from '../../broker/registry.ts';
import { nodeVerifyingKey } from '../../src/protocol/signing-node.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { Speaker } from '../../device/speaker.ts';
import { createHeadlessBoard, type HeadlessBoard } from '../../device/boards/headless.ts';
import { Trust } from '../../device/trust.ts';
import { until } from '../support/mqtt.ts';
import { provision, tempDataDir, startSecureService } from './helpers.ts';

let dir: string;
let broker: RunningBroker;
let api: string;
let token: string;
let speaker: Speaker;
let board: HeadlessBoard;
const voice = createTtsVoice(createEspeakEngine());

async function call(method: string, url: string, body?: unknown, auth = true) {
  const res = await fetch(`${api}${url}`, {
    method,
    headers: {
      ...(auth && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

const volume = () => board.nvs.get<number>('settings.volume');

beforeAll(async () => {
  ({ dir, broker, api, token } = await startSecureService());
  const creds = provision(dir, 'SPK-CMD');
  provision(dir, 'SPK-OFF');
  provision(dir, 'SPK-GONE');
  const registry = openRegistry(dir);
  registry.revoke('SPK-GONE', Date.now());
  registry.close();
  board = createHeadlessBoard();
  speaker = new Speaker({
    id: 'SPK-CMD',
    brokerUrl: broker.mqttUrl,
    lang: 'zh-CN',
    board,
    voice,
    settings: { prompts: false },
    mqtt: { username: creds.username, password: creds.password },
    // Trusts only the backend's key: an unsigned or foreign-signed command would be refused.
    trust: new Trust({ publicKey: nodeVerifyingKey(loadOrCreateBackendKeys(brokerDir(dir)).publicKey) }),
  });
  await speaker.start();
  await until(() => broker.tracker.device('SPK-CMD')?.online === true, 'SPK-CMD online');
}, 60_000);

afterAll(async () => {
  await speaker?.stop();
  await broker?.close();
});

describe('POST /v1/devices/:id/commands', () => {
  it('signs set-volume, the speaker runs it, and ?wait= answers with its result', async () => {
    const before = Date.now();
    const r = await call('POST', '/v1/devices/SPK-CMD/commands?wait=5s', { command: 'set-volume', args: { value: 3 } });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.command).toEqual({
      id: expect.stringMatching(/^CMD-[0-9A-Z]+-[0-9A-F]{10}$/),
      device: 'SPK-CMD',
      command: 'set-volume',
      args: { value: 3 },
      createdAt: expect.any(Number),
    });
    expect(r.json.command.createdAt).toBeGreaterThanOrEqual(before);
    expect(r.json.result).toMatchObject({ id: r.json.command.id, device: 'SPK-CMD', ok: true, volume: 3 });
    expect(volume()).toBe(3);
  });

  it('answers 202 at once without ?wait=, and the speaker still runs it', async () => {
    const r = await call('POST', '/v1/devices/SPK-CMD/commands', { command: 'volume-up' });
    expect(r.status).toBe(202);
    expect(r.json).toEqual({
      command: {
        id: expect.any(String),
        device: 'SPK-CMD',
        command: 'volume-up',
        args: {},
        createdAt: expect.any(Number),
      },
    });
    await until(() => volume() === 4, 'volume 4 after volume-up');
  });

  it('gives replay and summary their results (what the speaker said)', async () => {
    const replay = await call('POST', '/v1/devices/SPK-CMD/commands?wait=5s', { command: 'replay' });
    expect(replay.status).toBe(200);
    expect(replay.json.result).toMatchObject({ ok: true, command: 'replay', text: expect.any(String) });
    const summary = await call('POST', '/v1/devices/SPK-CMD/commands?wait=5000ms', { command: 'summary', args: {} });
    expect(summary.json.result).toMatchObject({ ok: true, command: 'summary' });
  });

  it('answers 504 no-result when a provisioned speaker is not connected', async () => {
    const r = await call('POST', '/v1/devices/SPK-OFF/commands?wait=300ms', { command: 'battery' });
    expect(r.status).toBe(504);
    expect(r.json.error.code).toBe('no-result');
    expect(r.json.error.message).toMatch(
      /^SPK-OFF has not answered command CMD-\S+ \(battery\) within 0.3 s: the command was sent, but the speaker is not connected to this broker/,
    );
  });

  const refusals: [string, string, unknown, number, string, RegExp][] = [
    ['an invalid device id', 'SPK%2F%23', { command: 'replay' }, 400, 'invalid-device', /"SPK\/#" is not a device id/],
    [
      'a device never provisioned',
      'SPK-NONE',
      { command: 'replay' },
      404,
      'unknown-device',
      /provision it first \(POST \/v1\/devices\/SPK-NONE\/provision/,
    ],
    [
      'the backend itself',
      'backend',
      { command: 'replay' },
      404,
      'unknown-device',
      /"backend" is the backend's own identity, not a device/,
    ],
    [
      'a revoked device',
      'SPK-GONE',
      { command: 'replay' },
      409,
      'device-revoked',
      /SPK-GONE was revoked: provision it again .*renew=1/,
    ],
    ['ota', 'SPK-CMD', { command: 'ota' }, 400, 'unknown-command', /ota is not sent this way: .*npx payspeaker ota/],
    [
      'an unknown command',
      'SPK-CMD',
      { command: 'dance' },
      400,
      'unknown-command',
      /"command" is "dance": it must be one of volume-up, volume-down, set-volume, replay, summary, battery/,
    ],
    [
      'a volume over 10',
      'SPK-CMD',
      { command: 'set-volume', args: { value: 11 } },
      400,
      'invalid-args',
      /"value" is 11: set-volume needs an integer from 0 \(silent\) to 10 \(loudest\)/,
    ],
    [
      'a decimal volume',
      'SPK-CMD',
      { command: 'set-volume', args: { value: 2.5 } },
      400,
      'invalid-args',
      /"value" is 2.5/,
    ],
    ['set-volume without a value', 'SPK-CMD', { command: 'set-volume' }, 400, 'invalid-args', /"value" is undefined/],
    [
      'a misnamed argument',
      'SPK-CMD',
      { command: 'set-volume', args: { volume: 5 } },
      400,
      'invalid-args',
      /set-volume takes only "value", not "volume"/,
    ],
    [
      'arguments to replay',
      'SPK-CMD',
      { command: 'replay', args: { value: 1 } },
      400,
      'invalid-args',
      /replay takes no arguments, not "value"/,
    ],
    [
      'args that are not an object',
      'SPK-CMD',
      { command: 'replay', args: [1] },
      400,
      'invalid-field',
      /"args" is \[1\]: it must be an object/,
    ],
    ['no command', 'SPK-CMD', { args: {} }, 400, 'missing-field', /"command" is missing/],
    [
      'an unknown field',
      'SPK-CMD',
      { command: 'replay', device: 'SPK-X' },
      400,
      'unknown-field',
      /unknown field "device": the fields are command, args/,
    ],
    [
      'a body that is not an object',
      'SPK-CMD',
      '"replay"',
      400,
      'invalid-body',
      /must be a JSON object such as \{"command": "set-volume"/,
    ],
  ];
  it.each(refusals)(
    'refuses %s with a message that says what to do',
    async (_what, id, body, status, code, message) => {
      const r = await call('POST', `/v1/devices/${id}/commands`, body);
      expect(r.status, JSON.stringify(r.json)).toBe(status);
      expect(Object.keys(r.json)).toEqual(['error']);
      expect(r.json.error.code).toBe(code);
      expect(r.json.error.message).toMatch(message);
    },
  );

  it('refuses a bad ?wait= and a missing token', async () => {
    const wait = await call('POST', '/v1/devices/SPK-CMD/commands?wait=soon', { command: 'replay' });
    expect(wait.status).toBe(400);
    expect(wait.json.error).toMatchObject({
      code: 'invalid-wait',
      message: expect.stringMatching(/wait=soon is not a duration/),
    });
    const anonymous = await call('POST', '/v1/devices/SPK-CMD/commands', { command: 'volume-down' }, false);
    expect(anonymous.status).toBe(401);
    expect(volume()).toBe(4); // nothing was sent
  });
});

describe('on an --insecure broker', () => {
  it('sends to any device id, no token asked', async () => {
    const insecureDir = tempDataDir();
    const open = await startBroker({
      port: 0,
      wsPort: null,
      security: { mode: 'insecure' },
      service: { dataDir: insecureDir, httpPort: 0 },
    });
    try {
      const res = await fetch(`${open.service!.httpUrl}/v1/devices/SPK-ANY/commands`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'summary' }),
      });
      expect(res.status).toBe(202);
      expect(((await res.json()) as any).command).toMatchObject({ device: 'SPK-ANY', command: 'summary' });
    } finally {
      await open.close();
    }
  });
});
