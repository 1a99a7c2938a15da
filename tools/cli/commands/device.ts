/** `payspeaker device`: one virtual speaker on this machine, until SIGINT/SIGTERM or `q`. */
import { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { LANGUAGES, type Language } from '../../../src/speech/index.ts';
import { VOICE_ENGINES } from '../../../src/voice/index.ts';
import { isDeviceId } from '../../../src/protocol/index.ts';
import { defaultDataDir } from '../../../src/config.ts';
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

interface DeviceFlags {
  config?: string;
  insecure?: boolean;
  id?: string;
  broker: string;
  lang: Language;
  audio: string;
  voiceEngine: string;
  dataDir?: string;
  clipGap: string;
  staleAfter: string;
  burstDepth: number;
  json?: boolean;
  logLevel: LogLevel;
}

export function deviceCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  return new Command('device')
    .description('run a virtual speaker that announces the payments sent to it')
    .option('--config <file>', 'the device config "payspeaker provision" wrote: id, broker, credentials, backend key')
    .option(
      '--insecure',
      'no credentials and no signature checks: any publisher can make this speaker announce (demos only)',
    )
    .addOption(new Option('--id <device-id>', 'device id, e.g. SPK-0001').env('PAYSPEAKER_DEVICE').default(s.device))
    .addOption(commonOptions.broker(s))
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
      new Option(
        '--data-dir <dir>',
        'data directory; the NVS is DIR/devices/<id>/nvs.json (default: the user data dir)',
      )
        .env('PAYSPEAKER_DATA_DIR')
        .default(s.dataDir),
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
    .addOption(commonOptions.json())
    .addOption(commonOptions.logLevel(s))
    .addHelpText(
      'after',
      "\nOn a terminal a live panel shows the status light, volume, queue and last payment.\nKeys: + / - volume, r replay, s today's summary, p battery, q quit.",
    )
    .action(async (flags: DeviceFlags, cmd: Command) => {
      const identity = resolveIdentity(flags, cmd);
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
      let quit: () => void = () => undefined;
      const quitPressed = new Promise<string>((resolve) => (quit = () => resolve('q')));
      const { speaker, board } = await bootSpeaker(
        {
          ...identity,
          lang: flags.lang,
          audio: flags.audio,
          voiceEngine: flags.voiceEngine,
          dataDir: flags.dataDir ?? defaultDataDir(),
          clipGapMs: parseDuration(flags.clipGap, '--clip-gap', { allowZero: true }),
          settings: { staleAfterMs: parseDuration(flags.staleAfter, '--stale-after'), burstDepth: flags.burstDepth },
          log,
          interactive,
          onQuit: quit,
        },
        (e) => print(eventLine(e, json)),
      );
      panel = board.panel;
      const reason = await Promise.race([untilShutdown(), quitPressed]);
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
      ca: c.ca,
    };
  }
  if (!flags.insecure) {
    throw new CliError(
      'a device needs its config to know whom to trust: pass --config SPK-0001.json (from "npx payspeaker provision SPK-0001"), or --insecure for a demo without credentials or signatures',
    );
  }
  if (!flags.id) throw new CliError('a device id is needed: pass --id SPK-0001 (or set PAYSPEAKER_DEVICE)');
  if (!isDeviceId(flags.id)) {
    throw new CliError(
      `--id ${JSON.stringify(flags.id)} is not a valid device id: use 1-64 letters, digits, "-" or "_" (e.g. SPK-0001)`,
    );
  }
  return { id: flags.id, broker: flags.broker, credentials: null, trust: new Trust({ publicKey: null }) };
}
