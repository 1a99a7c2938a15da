/** `payspeaker device`: one virtual speaker on this machine, until SIGINT/SIGTERM or `q`. */
import { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { LANGUAGES, type Language } from '../../../src/speech/index.ts';
import { VOICE_ENGINES } from '../../../src/voice/index.ts';
import { isDeviceId } from '../../../src/protocol/index.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError } from '../exit-codes.ts';
import { eventLine } from '../output.ts';
import { untilShutdown } from '../signals.ts';
import { parseDuration } from '../duration.ts';
import { parseCount } from '../options.ts';
import { bootSpeaker, type SpeakerSetup } from '../speaker-setup.ts';
import { loadDeviceConfig } from '../device-config.ts';
import { Trust } from '../../../device/trust.ts';
import type { LogLevel } from '../../../src/log.ts';
import type { TerminalPanel } from '../../../device/drivers/terminal-panel.ts';
import { nodeVerifyingKey } from '../../../src/protocol/signing-node.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { caOption, readCa } from '../broker-connection.ts';
import { isTlsUrl } from '../../../src/mqtt/connect.ts';

interface DeviceFlags extends DataFlags {
  config?: string;
  ca?: string;
  insecure?: boolean;
  id?: string;
  broker: string;
  lang: Language;
  audio: string;
  voiceEngine: string;
  clipGap: string;
  staleAfter: string;
  keepalive: string;
  burstDepth: number;
  json?: boolean;
  logLevel: LogLevel;
}

export function deviceCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new Command('device')
    .description('run a virtual speaker that announces the payments sent to it')
    .option('--config <file>', 'the device config "payspeaker provision" wrote: id, broker, credentials, backend key')
    .option(
      '--insecure',
      'no credentials and no signature checks: any publisher can make this speaker announce (demos only)',
    )
    .addOption(new Option('--id <device-id>', 'device id, e.g. SPK-0001').env('PAYSPEAKER_DEVICE').default(s.device))
    .addOption(commonOptions.broker(s))
    .addOption(
      caOption(
        'for mqtts:// and wss://: the CA (PEM) the broker\'s certificate must be signed by, instead of the config\'s (default: the config\'s, else DIR/certs/ca.pem if it exists, else the system\'s CAs); a config from before "certs" can also get it with "provision ID --update-ca"',
      ),
    )
    .addOption(
      new Option('--lang <lang>', 'announcement language')
        .choices(LANGUAGES)
        .env('PAYSPEAKER_LANG')
        .default(s.lang ?? 'zh-CN'),
    )
    .addOption(
      new Option(
        '--audio <sink>',
        'auto (play, or write WAVs to ./out without a sound device), player, file:DIR, alsa:DEVICE, none',
      )
        .env('PAYSPEAKER_AUDIO')
        .default(s.audio ?? 'auto'),
    )
    .addOption(
      new Option(
        '--voice-engine <engine>',
        'clips (prerecorded voice pack, like real boxes), espeak or say (full sentences)',
      )
        .choices(VOICE_ENGINES)
        .env('PAYSPEAKER_VOICE_ENGINE')
        .default(s.voiceEngine ?? 'clips'),
    )
    .addOption(
      new Option('--clip-gap <duration>', 'silence between joined clips')
        .env('PAYSPEAKER_CLIP_GAP')
        .default(s.clipGap ?? '40ms'),
    )
    .addOption(
      new Option(
        '--stale-after <duration>',
        'a notification older than this on arrival was queued offline: summarized, not read out',
      )
        .env('PAYSPEAKER_STALE_AFTER')
        .default(s.staleAfter ?? '60s'),
    )
    .addOption(
      new Option('--burst-depth <n>', 'announcements waiting before further payments join one summary')
        .env('PAYSPEAKER_BURST_DEPTH')
        .argParser(parseCount('--burst-depth'))
        .default(s.burstDepth ?? 5),
    )
    .addOption(
      new Option(
        '--keepalive <duration>',
        'MQTT keep-alive: a dead link is noticed (and the speaker shown offline by the broker) within 1.5× this',
      )
        .env('PAYSPEAKER_KEEPALIVE')
        .default(s.keepalive ?? '20s'),
    )
    .addOption(commonOptions.json())
    .addOption(commonOptions.logLevel(s))
    .addHelpText(
      'after',
      "\nOn a terminal a live panel shows the status light, volume, queue and last payment.\nKeys: + / - volume, r replay, s today's summary, p battery, ? help, q quit.",
    );
  const described = addDataOption(
    cmd,
    s,
    "data directory: the device's NVS is DIR/devices/<id>/nvs.json, and DIR/certs/ca.pem the CA for mqtts:// when neither --ca nor the config names one (default: the user data dir)",
  );
  return described.action(async (flags: DeviceFlags, command: Command) => {
    const identity = resolveIdentity(flags, command);
    const json = Boolean(flags.json);
    const interactive = !json && Boolean(process.stdout.isTTY && process.stdin.isTTY);
    // Until the board exists lines print plainly; then through its panel, so they do not tear it.
    let panel: TerminalPanel | null = null;
    const print = (line: string | null) => line !== null && (panel ? panel.log(line) : ctx.print(line));
    const logLines = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').trimEnd().split('\n')) {
          if (panel) panel.log(line);
          else process.stderr.write(`${line}\n`);
        }
        done();
      },
    });
    const log = ctx.logger({
      level: flags.logLevel,
      json,
      name: 'device',
      ...(interactive ? { destination: logLines } : {}),
    });
    // Listening for Ctrl-C/SIGTERM before boot prints anything: whoever reads "online" may signal at once.
    const shutdown = untilShutdown();
    let quit: () => void = () => undefined;
    const quitPressed = new Promise<string>((resolve) => (quit = () => resolve('q')));
    const { speaker, board } = await bootSpeaker(
      {
        ...identity,
        lang: flags.lang,
        audio: flags.audio,
        voiceEngine: flags.voiceEngine,
        dataDir: resolveDataDir(flags),
        clipGapMs: parseDuration(flags.clipGap, '--clip-gap', { allowZero: true }),
        settings: {
          staleAfterMs: parseDuration(flags.staleAfter, '--stale-after'),
          burstDepth: flags.burstDepth,
          keepaliveMs: keepaliveMs(flags.keepalive),
        },
        log,
        interactive,
        onQuit: quit,
      },
      (e) => print(eventLine(e, json)),
    );
    panel = board.panel;
    const reason = await Promise.race([shutdown, quitPressed]);
    log.info({ reason }, 'shutting down');
    await speaker.stop();
  });
}

/** Who the device is and whom it trusts: from its config file, or (--insecure) from flags alone. */
function resolveIdentity(
  flags: DeviceFlags,
  cmd: Command,
): Pick<SpeakerSetup, 'id' | 'broker' | 'credentials' | 'trust' | 'ca'> {
  if (flags.config) {
    const c = loadDeviceConfig(flags.config);
    if (flags.id !== undefined && cmd.getOptionValueSource('id') === 'cli' && flags.id !== c.id) {
      throw new CliError(
        `--id ${flags.id} does not match the id in ${flags.config} (${c.id}): drop --id, or pass that device's own config`,
      );
    }
    if (!c.backendPublicKey && !flags.insecure) {
      throw new CliError(
        `${flags.config} has no backendPublicKey, so this device could not tell a real payment from a fake: provision it again with --force once the broker has started, or pass --insecure`,
      );
    }
    // An explicit --broker (flag, env, settings file) wins over the config's.
    const broker = cmd.getOptionValueSource('broker') === 'default' ? c.broker : flags.broker;
    return {
      id: c.id,
      broker,
      credentials: { username: c.username, password: c.password },
      trust: new Trust({ publicKey: c.backendPublicKey && nodeVerifyingKey(c.backendPublicKey) }),
      ca: brokerCaFor(flags, broker, c.ca ?? undefined),
    };
  }
  if (!flags.insecure) {
    // Name the device the user asked for, not an example that is someone else's.
    const id = flags.id && isDeviceId(flags.id) ? flags.id : 'SPK-0001';
    throw new CliError(
      `a device needs its config to know whom to trust: pass --config ${id}.json (from "npx payspeaker provision ${id}"), or --insecure for a demo without credentials or signatures`,
    );
  }
  if (!flags.id) throw new CliError('a device id is needed: pass --id SPK-0001 (or set PAYSPEAKER_DEVICE)');
  if (!isDeviceId(flags.id)) {
    throw new CliError(
      `--id ${JSON.stringify(flags.id)} is not a valid device id: use 1-64 letters, digits, "-" or "_" (e.g. SPK-0001)`,
    );
  }
  return {
    id: flags.id,
    broker: flags.broker,
    credentials: null,
    trust: new Trust({ publicKey: null }),
    ca: brokerCaFor(flags, flags.broker, undefined),
  };
}

/**
 * The CA the device checks the broker's certificate against: --ca (a config from before
 * `certs` has none, and this moves it to mqtts:// without a new secret), else the config's,
 * else DIR/certs/ca.pem as every other command finds it, else the system's CAs (null).
 */
function brokerCaFor(flags: DeviceFlags, broker: string, configCa: string | undefined): string | null {
  if (flags.ca === undefined && configCa) return configCa;
  if (!isTlsUrl(broker)) return flags.ca === undefined ? null : readCa(flags.ca, resolveDataDir(flags))!.pem;
  return readCa(flags.ca, resolveDataDir(flags))?.pem ?? null;
}

/** MQTT keeps alive in whole seconds, 1 to 65,535 (a 16-bit field): outside that, say so here. */
function keepaliveMs(text: string): number {
  const ms = parseDuration(text, '--keepalive');
  if (ms < 1_000 || ms > 65_535_000)
    throw new CliError(
      `--keepalive ${text} is out of range: MQTT keeps alive from 1s to 65535s (about 18 h); 20s is the default`,
    );
  return ms;
}
