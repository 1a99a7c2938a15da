/**
 * `payspeaker demo` (what `npm start` runs): an embedded broker with its notification service
 * and one virtual speaker in this process, three sample payments posted to the HTTP API and
 * announced one after another, then a clean exit — pointing at the web console. With
 * `--keep-open` the broker, its console and the speaker stay up until Ctrl-C, for a look in a
 * browser: the console's own speakers connect over the broker's WebSocket listener.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { startBroker } from '../../../broker/broker.ts';
import { NotificationApi } from '../../api/client.ts';
import type { Channel, Kind } from '../../../src/protocol/index.ts';
import { loadOrCreateBackendKeys } from '../../../broker/backend-keys.ts';
import { brokerDir } from '../../../broker/data-dir.ts';
import { DEFAULT_HTTP_PORT } from '../../../broker/service.ts';
import { provisionDevice, readBackendCredentials } from '../../../broker/credentials.ts';
import { Trust } from '../../../device/trust.ts';
import { LANGUAGES, type Language } from '../../../src/speech/index.ts';
import { VOICE_ENGINES } from '../../../src/voice/index.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { eventLine } from '../output.ts';
import { bootSpeaker } from '../speaker-setup.ts';
import { untilShutdown } from '../signals.ts';
import type { Speaker } from '../../../device/speaker.ts';
import type { LogLevel } from '../../../src/log.ts';
import { nodeVerifyingKey } from '../../../src/protocol/signing-node.ts';

const DEMO_DEVICE = 'SPK-DEMO';

/** Amounts in minor units: 123.45, 1,005.00 and 0.50 yuan, one per channel. */
const SAMPLES: { amount: number; currency: string; channel: Channel; kind: Kind }[] = [
  { amount: 12_345, currency: 'CNY', channel: 'wechat', kind: 'payment' },
  { amount: 100_500, currency: 'CNY', channel: 'alipay', kind: 'payment' },
  { amount: 50, currency: 'CNY', channel: 'unionpay', kind: 'payment' },
];

interface DemoFlags {
  lang: Language;
  audio: string;
  voiceEngine: string;
  json?: boolean;
  logLevel: LogLevel;
  keepOpen?: boolean;
}

export function demoCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  return new Command('demo')
    .description(
      'embedded broker + one virtual speaker + three sample payments, then exit (npm start); --keep-open leaves it running with the web console',
    )
    .addOption(
      new Option('--lang <lang>', 'announcement language')
        .choices(LANGUAGES)
        .env('PAYSPEAKER_LANG')
        .default(s.lang ?? 'zh-CN'),
    )
    .addOption(
      new Option('--audio <sink>', 'auto, player, file:DIR or none').env('PAYSPEAKER_AUDIO').default(s.audio ?? 'auto'),
    )
    .addOption(
      new Option('--voice-engine <engine>', 'clips, espeak or say')
        .choices(VOICE_ENGINES)
        .env('PAYSPEAKER_VOICE_ENGINE')
        .default(s.voiceEngine ?? 'clips'),
    )
    .option(
      '--keep-open',
      'after the samples, keep the broker, the speaker and the web console running until Ctrl-C (prints the console URL and its login token)',
    )
    .addOption(commonOptions.json())
    .addOption(commonOptions.logLevel({ ...s, logLevel: s.logLevel ?? 'warn' }))
    .addHelpText(
      'after',
      `
Examples:
  npm start                                   the demo, spoken aloud, then exit
  npx payspeaker demo --keep-open             the same, then open the printed console URL in a browser`,
    )
    .action(async (flags: DemoFlags) => {
      const json = Boolean(flags.json);
      const log = ctx.logger({ level: flags.logLevel, json, name: 'demo' });
      // A fresh data directory each run, so the demo is the same every time — and secure like
      // the real thing: a registry, a provisioned speaker, signed payments.
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-demo-'));
      // The whole path a payment takes: the HTTP API, the outbox, MQTT, the speaker.
      // A WebSocket listener only when the console stays open: a speaker in its tab connects there.
      const broker = await startBroker({
        port: 0,
        wsPort: flags.keepOpen ? 0 : null,
        log,
        security: { mode: 'secure', dataDir },
        service: { dataDir, httpPort: 0 },
      });
      const keys = loadOrCreateBackendKeys(brokerDir(dataDir));
      const device = provisionDevice(broker.registry!, DEMO_DEVICE);
      let speaker: Speaker | null = null;
      try {
        const setup = {
          id: DEMO_DEVICE,
          broker: broker.mqttUrl,
          credentials: { username: device.username, password: device.password },
          trust: new Trust({ publicKey: nodeVerifyingKey(keys.publicKey) }),
          lang: flags.lang,
          audio: flags.audio,
          voiceEngine: flags.voiceEngine,
          dataDir,
          log,
          interactive: false,
        };
        ({ speaker } = await bootSpeaker(setup, (e) => {
          if (e.event === 'announced' || e.event === 'rejected' || e.event === 'spoke') ctx.print(eventLine(e, json)!);
        }));
        await speaker.start(); // online: the broker now holds a session for it
        if (!json)
          ctx.print(
            `payspeaker demo: broker on ${broker.mqttUrl}, payments API on ${broker.service!.httpUrl}, speaker ${DEMO_DEVICE} speaking ${flags.lang}`,
          );
        const token = readBackendCredentials(dataDir)!.password;
        await sendSamples(new NotificationApi(broker.service!.httpUrl!, token));
        const consoleUrl = `${broker.service!.httpUrl}/`;
        if (!json) ctx.print(`done: ${SAMPLES.length} payments announced. Next: "npx payspeaker --help"`);
        if (flags.keepOpen) {
          // Signal handlers before the line: whoever reads it may press Ctrl-C at once.
          const shutdown = untilShutdown();
          if (json) ctx.print(JSON.stringify({ event: 'console', url: consoleUrl, token }));
          else
            ctx.print(
              `console: ${consoleUrl} (open it in a browser; log in with the backend token ${token}; payments to ${DEMO_DEVICE} are announced here too; Ctrl-C to stop)`,
            );
          await shutdown;
        } else if (!json)
          ctx.print(
            `web console: "npx payspeaker demo --keep-open" keeps this demo running with it, or "npx payspeaker broker" serves it at http://127.0.0.1:${DEFAULT_HTTP_PORT}/`,
          );
      } finally {
        // Also when a sample failed: a speaker left running would keep the process alive.
        await speaker?.stop();
        await broker.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
}

/** Posts each sample to the notification API, as a payment backend would, and waits until the speaker played it. */
async function sendSamples(api: NotificationApi): Promise<void> {
  for (const sample of SAMPLES) {
    const { payment } = await api.createPayment({ device: DEMO_DEVICE, ...sample });
    const { payment: done } = await api.waitFinal(payment.id, 30_000);
    if (done.status !== 'played')
      throw new CliError(`the demo speaker did not play a sample: ${done.status} ${done.reason ?? ''}`, EXIT.FAILURE);
  }
}
