/**
 * `payspeaker device` on a terminal: the live panel and the keys. The terminal is a real
 * pseudo-terminal from util-linux's `script`, so stdin is a TTY in raw mode as for a person.
 */
import { stripVTControlCharacters } from 'node:util';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { BIN, cleanEnv } from '../support/cli.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import type { RunningBroker } from '../../broker/broker.ts';

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker.close());

/** Strips colours and cursor movement, keeping the text a person would read. */
const plain = (s: string) => stripVTControlCharacters(s);

describe('device panel and keys', () => {
  it('shows the status light, volume and last payment, and reacts to + r q', { timeout: 60_000 }, async () => {
    const command = `${process.execPath} ${BIN} device --insecure --id SPK-PANEL --broker ${broker.mqttUrl} --audio none --lang zh-CN`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...cleanEnv(), TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const seen = (text: string) =>
      until(() => plain(screen).includes(text), `"${text}" on the panel; screen:\n${plain(screen)}`, 30_000);

    await seen('● online');
    await seen('volume 7/10');
    expect(plain(screen)).toContain('keys: + volume up  - volume down  r replay  s summary  p battery  q quit');

    child.stdin.write('+');
    await seen('volume 8/10');

    const link = await DeviceLink.open(broker.mqttUrl, 'SPK-PANEL');
    const id = await link.pay(12_345);
    await until(() => link.ackFor(id)?.status === 'played', 'the ack');
    await seen('last payment: 123.45 CNY (wechat)');
    await seen('微信收款一百二十三点四五元');

    child.stdin.write('r');
    await until(() => plain(screen).split('微信收款一百二十三点四五元').length > 2, 'the replay on screen');

    child.stdin.write('q');
    expect(await exited).toBe(0);
    expect(link.states.at(-1)).toMatchObject({ online: false, volume: 8 });
    await link.close();
  });
});
