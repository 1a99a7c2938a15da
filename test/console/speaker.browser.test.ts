/**
 * The web console end to end in Debian's Chromium (issue 13): a broker on ephemeral ports, the
 * console it serves, a speaker running the real firmware in the tab. What the tab played is
 * compared sample for sample with what the Node clip voice renders for the same payment (a
 * digest of the PCM the tab's WebAudio driver was given, not a mock of WebAudio); a forged
 * notification is refused in the tab; the box's buttons work; the page is usable from the
 * keyboard and passes axe-core; on a secure broker nothing works before the login.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { DEFAULT_VOLUME } from '../../src/audio/volume.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { makeNotification, topics, type Notification } from '../../src/protocol/index.ts';
import { signNotification } from '../../src/protocol/signing-node.ts';
import { utter } from '../../src/speech/index.ts';
import { createVoice } from '../../src/voice/index.ts';
import type { PlayedClip } from '../../console/speaker/types.ts';
import { backendCredentials, tempDataDir } from '../broker/helpers.ts';
import { axeViolations, launchBrowser, openPage, screenshot, type OpenedPage } from '../support/browser.ts';
import { needs } from '../support/prerequisites.ts';

const LONG = 120_000;
/** An announcement plays in real time in the tab (a few seconds each): polls wait that long. */
const POLL = { timeout: 30_000, interval: 200 };
let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
}, LONG);
afterAll(async () => {
  await browser?.close();
});

/** The clips the tab has played so far (console/speaker/types.ts: playedClips). */
function clips(page: Page, id: string): Promise<PlayedClip[]> {
  return page.evaluate((id) => {
    const w = window as unknown as { payspeaker: { speakers: Map<string, { playedClips(): PlayedClip[] }> } };
    return w.payspeaker.speakers.get(id)?.playedClips() ?? [];
  }, id);
}

async function waitForClip(page: Page, id: string, match: (c: PlayedClip) => boolean, after = 0): Promise<PlayedClip> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = (await clips(page, id)).slice(after).find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no clip played on ${id}: ${JSON.stringify(await clips(page, id))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The retained state message of a device, as any MQTT client sees it. */
async function retainedState(mqttUrl: string, id: string, auth?: { username: string; password: string }) {
  const client = await connectOnce(mqttUrl, { clientId: `test-state-${Date.now()}`, ...auth });
  try {
    return await new Promise<{ online?: boolean }>((resolve) => {
      client.on('message', (_t, payload) => resolve(JSON.parse(payload.toString()) as { online?: boolean }));
      client.subscribe(topics.state(id), { qos: 1 });
    });
  } finally {
    await endClient(client);
  }
}

async function waitOnline(mqttUrl: string, id: string, auth?: { username: string; password: string }): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await retainedState(mqttUrl, id, auth)).online !== true) {
    if (Date.now() > deadline) throw new Error(`${id}'s retained state never said online`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** SHA-256 of PCM as the tab digests it: little-endian int16 bytes. */
function pcmSha256(samples: Int16Array): string {
  return createHash('sha256')
    .update(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength))
    .digest('hex');
}

const chromium = needs('chromium', 'cjk-font');

describe.skipIf(chromium.missing)(`a speaker in the tab, on an --insecure broker${chromium.note}`, () => {
  let broker: RunningBroker;
  let api: string;
  let opened: OpenedPage;
  let page: Page;
  const ID = 'SPK-WEB-1';

  beforeAll(async () => {
    broker = await startBroker({
      host: '127.0.0.1',
      port: 0,
      wsPort: 0,
      security: { mode: 'insecure' },
      service: { dataDir: tempDataDir(), httpPort: 0 },
    });
    api = broker.service!.httpUrl!;
    opened = await openPage(browser, `${api}/?speaker=${ID}`, { waitFor: `[data-speaker-id="${ID}"]` });
    page = opened.page;
  }, LONG);
  afterAll(async () => {
    await opened?.close();
    await broker?.close();
  });

  it(
    'comes online: the broker holds its retained state, online',
    async () => {
      await waitOnline(broker.mqttUrl, ID);
      expect(await page.locator('#insecure-banner').isVisible()).toBe(true);
    },
    LONG,
  );

  it(
    'announces a payment typed into the form with the keyboard alone, sample for sample as the Node voice says it, and its row reaches played live',
    async () => {
      // Keyboard only: Tab from the top of the page until the device field has focus, then type.
      await page.locator('body').focus();
      const order: string[] = [];
      for (let i = 0; i < 60 && order.at(-1) !== 'pay-device'; i++) {
        await page.keyboard.press('Tab');
        order.push(await page.evaluate(() => document.activeElement?.id ?? ''));
      }
      expect(order.at(-1)).toBe('pay-device');
      await page.keyboard.type(ID);
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('pay-amount');
      await page.keyboard.type('123.45');
      const key = await page.locator('#pay-key').inputValue();
      await page.keyboard.press('Enter');

      const row = page.locator(`#payments-list li[data-status="played"]`).first();
      await row.waitFor({ timeout: 30_000 });
      const paymentId = (await row.getAttribute('data-payment-id'))!;
      expect(paymentId).toMatch(/^PAY-/);

      const played = await waitForClip(page, ID, (c) => c.label === paymentId);
      const n: Notification = makeNotification({
        id: paymentId,
        device: ID,
        amount: 12345,
        currency: 'CNY',
        channel: 'wechat',
        kind: 'payment',
        createdAt: Date.now(),
      });
      const voice = await createVoice('clips', { langs: ['zh-CN'] });
      const pcm = await voice.render(utter({ type: 'payment', payment: n }, 'zh-CN'), 'zh-CN', DEFAULT_VOLUME);
      expect(played.samples).toBe(pcm.samples.length);
      expect(played.sha256).toBe(pcmSha256(pcm.samples));
      const said = page.locator(`ol[data-transcript="${ID}"] li[data-kind="payment"]`);
      await expect
        .poll(async () => (await said.allTextContents()).join('\n'), POLL)
        .toMatch(/微信收款一百二十三点四五元/);

      // The same idempotency key again: the API answers with the payment it has, nothing is announced.
      const before = (await clips(page, ID)).length;
      await page.locator('#pay-key').fill(key);
      await page.locator('#pay-amount').fill('123.45');
      await page.locator('#pay-amount').press('Enter');
      await expect.poll(() => page.locator('#pay-status').textContent(), POLL).toMatch(/used before/);
      await new Promise((r) => setTimeout(r, 2_000));
      expect((await clips(page, ID)).slice(before).filter((c) => c.label.startsWith('PAY-'))).toEqual([]);
      const list = (await (await fetch(`${api}/v1/payments?device=${ID}`)).json()) as { payments: unknown[] };
      expect(list.payments).toHaveLength(1);
    },
    LONG,
  );

  it(
    'refuses a forged notification (bad-signature ack) and plays nothing',
    async () => {
      const before = (await clips(page, ID)).length;
      const forger = generateKeyPairSync('ed25519').privateKey;
      const forged = signNotification(
        makeNotification({
          id: 'PAY-FORGED-1',
          device: ID,
          amount: 99900,
          currency: 'CNY',
          channel: 'alipay',
          kind: 'payment',
          createdAt: Date.now(),
        }),
        forger,
      );
      const client = await connectOnce(broker.mqttUrl, { clientId: 'test-forger' });
      try {
        const ack = new Promise<{ id: string; status: string; reason?: string }>((resolve) =>
          client.on('message', (_t, payload) => {
            const a = JSON.parse(payload.toString()) as { id: string; status: string; reason?: string };
            if (a.id === forged.id) resolve(a);
          }),
        );
        await client.subscribeAsync(topics.ack(ID), { qos: 1 });
        await client.publishAsync(topics.notify(ID), JSON.stringify(forged), { qos: 1 });
        expect(await ack).toMatchObject({ id: 'PAY-FORGED-1', status: 'rejected', reason: 'bad-signature' });
      } finally {
        await endClient(client);
      }
      await new Promise((r) => setTimeout(r, 500));
      expect((await clips(page, ID)).slice(before).filter((c) => c.label === forged.id)).toEqual([]);
    },
    LONG,
  );

  it(
    'has working buttons: replay repeats the last payment, volume up raises the played peak, summary says the day',
    async () => {
      const box = page.getByRole('region', { name: new RegExp(ID) });
      const transcript = () => page.locator(`ol[data-transcript="${ID}"] li`).allTextContents();
      let from = (await clips(page, ID)).length;
      await box.getByRole('button', { name: 'Replay', exact: true }).click();
      const quiet = await waitForClip(page, ID, (c) => c.label === 'replay', from);
      await expect
        .poll(() => page.locator(`ol[data-transcript="${ID}"]`).textContent(), POLL)
        .toMatch(/重复播报.*一百二十三点四五元/);

      await box.getByRole('button', { name: 'Volume up', exact: true }).click();
      await expect.poll(async () => (await transcript()).join('\n'), POLL).toMatch(/volume 8/);
      from = (await clips(page, ID)).length;
      await box.getByRole('button', { name: 'Replay', exact: true }).click();
      const loud = await waitForClip(page, ID, (c) => c.label === 'replay', from);
      expect(loud.samples).toBe(quiet.samples);
      expect(loud.peak).toBeGreaterThan(quiet.peak);

      from = (await clips(page, ID)).length;
      await box.getByRole('button', { name: 'Summary', exact: true }).click();
      await waitForClip(page, ID, (c) => c.label === 'summary', from);
      await expect
        .poll(() => page.locator(`ol[data-transcript="${ID}"] li[data-kind="payment"]`).last().textContent(), POLL)
        .toMatch(/一百二十三点四五元/);
    },
    LONG,
  );

  it(
    "sends the devices list's commands to the tab's speaker, signed, and runs a second speaker on the same page",
    async () => {
      const transcript = () => page.locator(`ol[data-transcript="${ID}"] li`).allTextContents();
      // Through POST /v1/devices/:id/commands: signed by the broker, checked with WebCrypto in the tab.
      await page.getByRole('button', { name: `Volume down on ${ID}` }).click();
      await expect.poll(async () => (await transcript()).join('\n'), POLL).toMatch(/volume 7/);

      const SECOND = 'SPK-WEB-3';
      await page.locator('#add-speaker-id').fill(SECOND);
      await page.locator('#add-speaker-id').press('Enter');
      await page.locator(`[data-speaker-id="${SECOND}"]`).waitFor();
      await waitOnline(broker.mqttUrl, SECOND);
      const paid = await fetch(`${api}/v1/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ device: SECOND, amount: 500, currency: 'CNY', channel: 'alipay' }),
      });
      expect(paid.status).toBe(201);
      const { payment } = (await paid.json()) as { payment: { id: string } };
      await waitForClip(page, SECOND, (c) => c.label === payment.id);
      expect((await clips(page, ID)).some((c) => c.label === payment.id)).toBe(false);
    },
    LONG,
  );

  it(
    'passes axe-core with no serious violations, broke no rule of its CSP, and leaves a screenshot',
    async () => {
      expect(await axeViolations(page)).toEqual([]);
      opened.assertClean();
      const file = await screenshot(page, 'console-insecure');
      expect(fs.statSync(file).size).toBeGreaterThan(10_000);
      expect(path.basename(file)).toBe('console-insecure.png');
    },
    LONG,
  );
});

describe.skipIf(chromium.missing)(`the console on a secure broker${chromium.note}`, () => {
  let broker: RunningBroker;
  let api: string;
  let token: string;
  let opened: OpenedPage;
  const ID = 'SPK-WEB-2';

  beforeAll(async () => {
    const dir = tempDataDir();
    broker = await startBroker({
      host: '127.0.0.1',
      port: 0,
      wsPort: 0,
      security: { mode: 'secure', dataDir: dir },
      service: { dataDir: dir, httpPort: 0 },
    });
    api = broker.service!.httpUrl!;
    token = backendCredentials(dir).password;
    opened = await openPage(browser, `${api}/?speaker=${ID}`, { waitFor: '#login-token' });
  }, LONG);
  afterAll(async () => {
    await opened?.close();
    await broker?.close();
  });

  it(
    'shows the login and no data without the credential',
    async () => {
      const { page } = opened;
      expect(await page.locator('#pay-form').count()).toBe(0);
      expect(await page.locator('#payments-list').count()).toBe(0);
      expect(await page.locator(`[data-speaker-id="${ID}"]`).count()).toBe(0);
      await page.locator('#login-token').fill('not-the-token');
      await page.locator('#login-token').press('Enter');
      await expect.poll(() => page.locator('#login-error').textContent(), POLL).toMatch(/wrong API token/);
      expect(await page.locator('#pay-form').count()).toBe(0);
      // The browser logs the refused request (401) as a console error: expected here, not a fault.
      opened.problems.consoleErrors.splice(0);
    },
    LONG,
  );

  it(
    'with the token: the speaker it provisions comes online with its own identity and announces a signed payment',
    async () => {
      const { page } = opened;
      await page.locator('#login-token').fill(token);
      await page.locator('#login-token').press('Enter');
      await page.locator(`[data-speaker-id="${ID}"]`).waitFor();
      // Its own identity: the registry knows it as a device, and MQTT saw it come online.
      const device = await fetch(`${api}/v1/devices/${ID}`, { headers: { authorization: `Bearer ${token}` } });
      expect(device.status).toBe(200);
      const backend = { username: 'backend', password: token };
      await waitOnline(broker.mqttUrl, ID, backend);

      await page.locator('#pay-device').fill(ID);
      await page.locator('#pay-amount').fill('8.00');
      await page.locator('#pay-amount').press('Enter');
      const row = page.locator(`#payments-list li[data-status="played"]`).first();
      await row.waitFor({ timeout: 30_000 });
      const paymentId = (await row.getAttribute('data-payment-id'))!;
      await waitForClip(page, ID, (c) => c.label === paymentId);
      opened.assertClean();
      await screenshot(page, 'console-secure');
    },
    LONG,
  );
});
