/**
 * `payspeaker command` signs what it sends with the backend key from --data, as `pay` signs
 * payments: a provisioned speaker (with the backend's public key) runs it, and refuses the same
 * command sent unsigned (--insecure) with the reason. Without a key and without --insecure the
 * CLI refuses before sending anything.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { brokerDir, readBackendPublicKey } from '../../broker/data-dir.ts';
import { publicKeyFromString, nodeVerifyingKey } from '../../src/protocol/signing-node.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { Speaker } from '../../device/speaker.ts';
import { Trust } from '../../device/trust.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import { runCli } from '../support/cli.ts';

const DEVICE = 'SPK-CMD-1';
let dir: string;
let broker: RunningBroker;
let speaker: Speaker;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-command-'));
  broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: null, security: { mode: 'secure', dataDir: dir } });
  const configFile = path.join(dir, `${DEVICE}.json`);
  const provisioned = await runCli([
    'provision',
    DEVICE,
    '--data',
    dir,
    '--broker',
    broker.mqttUrl,
    '--out',
    configFile,
  ]);
  expect(provisioned.code, provisioned.stderr).toBe(0);
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { username: string; password: string };
  speaker = new Speaker({
    id: DEVICE,
    brokerUrl: broker.mqttUrl,
    lang: 'en-US',
    board: createHeadlessBoard(),
    voice: createTtsVoice(createEspeakEngine()),
    settings: { prompts: false },
    mqtt: { username: config.username, password: config.password },
    trust: new Trust({ publicKey: nodeVerifyingKey(publicKeyFromString(readBackendPublicKey(dir)!)) }),
  });
  await speaker.start();
}, 60_000);

afterAll(async () => {
  await speaker?.stop();
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const command = (args: string[]) =>
  runCli(['command', ...args, '--device', DEVICE, '--broker', broker.mqttUrl, '--json']);

describe('payspeaker command', () => {
  it('signs with the key in --data: the provisioned speaker runs it', async () => {
    const r = await command(['set-volume', '--value', '2', '--data', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, command: 'set-volume', volume: 2 });
    const replay = await command(['replay', '--data', dir]);
    expect(JSON.parse(replay.stdout)).toMatchObject({ ok: true, text: 'No payment records' });
  }, 30_000);

  it('sent unsigned (--insecure), it is refused by the speaker with the reason (exit 3)', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-command-nokey-'));
    // The backend's MQTT credentials but not its key: the attack of issue 12.
    fs.mkdirSync(brokerDir(empty), { recursive: true });
    fs.copyFileSync(path.join(brokerDir(dir), 'backend.json'), path.join(brokerDir(empty), 'backend.json'));
    const r = await command(['set-volume', '--value', '0', '--data', empty, '--insecure']);
    expect(r.code, r.stderr).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, command: 'set-volume', reason: 'bad-signature' });
    expect(r.stderr).toMatch(/could not set-volume: refused, not run \(bad-signature\): the command is not signed/);

    const refused = await command(['set-volume', '--value', '0', '--data', empty]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /no backend signing key in .*: .*or pass --insecure to send an unsigned command to an --insecure speaker/,
    );
    fs.rmSync(empty, { recursive: true, force: true });
  }, 30_000);
});
