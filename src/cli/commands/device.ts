/** `payspeaker device`: one virtual speaker on this machine, until SIGINT/SIGTERM. */
import { Command, Option } from 'commander';
import { LANGUAGES, type Language } from '../../speech/index.ts';
import { isDeviceId } from '../../protocol/index.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError } from '../exit-codes.ts';
import { eventLine } from '../output.ts';
import { untilShutdown } from '../signals.ts';
import { startSpeaker } from '../speaker-setup.ts';
import type { LogLevel } from '../../log.ts';

interface DeviceFlags {
  id?: string;
  broker: string;
  lang: Language;
  audio: string;
  json?: boolean;
  logLevel: LogLevel;
}

export function deviceCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  return new Command('device')
    .description('run a virtual speaker that announces the payments sent to it')
    .addOption(new Option('--id <device-id>', 'device id, e.g. SPK-0001').env('PAYSPEAKER_DEVICE').default(s.device))
    .addOption(commonOptions.broker(s))
    .addOption(new Option('--lang <lang>', 'announcement language').choices(LANGUAGES).env('PAYSPEAKER_LANG').default(s.lang ?? 'zh-CN'))
    .addOption(
      new Option('--audio <sink>', 'auto (play, or write WAVs to ./out without a sound device), player, file:DIR, none')
        .env('PAYSPEAKER_AUDIO')
        .default(s.audio ?? 'auto'),
    )
    .addOption(commonOptions.json())
    .addOption(commonOptions.logLevel(s))
    .action(async (flags: DeviceFlags) => {
      if (!flags.id) throw new CliError('a device id is needed: pass --id SPK-0001 (or set PAYSPEAKER_DEVICE)');
      if (!isDeviceId(flags.id)) {
        throw new CliError(`--id ${JSON.stringify(flags.id)} is not a valid device id: use 1-64 letters, digits, "-" or "_" (e.g. SPK-0001)`);
      }
      const log = ctx.logger({ level: flags.logLevel, json: Boolean(flags.json), name: 'device' });
      const speaker = await startSpeaker(
        { id: flags.id, broker: flags.broker, lang: flags.lang, audio: flags.audio, log },
        (e) => ctx.print(eventLine(e, Boolean(flags.json))),
      );
      const signal = await untilShutdown();
      log.info({ signal }, 'shutting down');
      await speaker.stop();
    });
}
