/** What every command receives: resolved settings and ways to log and print. */
import { Option } from 'commander';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../../src/log.ts';
import type { Settings } from '../../src/config.ts';
import { DEFAULT_HTTP_PORT } from '../../broker/service.ts';
import { writeOut } from './output.ts';
import { parseApiUrl, parseBrokerUrl } from './url-option.ts';

export interface CliContext {
  settings: Settings;
  configFile: string | null;
  /** Writes one line to stdout (results and --json events). */
  print(line: string): void;
  logger(opts: { level: LogLevel; json: boolean; name: string; destination?: NodeJS.WritableStream }): Logger;
}

export function defaultContext(settings: Settings, configFile: string | null): CliContext {
  return {
    settings,
    configFile,
    print: (line) => writeOut(`${line}\n`),
    logger: (opts) => createLogger(opts),
  };
}

/** Options shared by several commands, each readable from flag, env var and config file. */
export const commonOptions = {
  broker: (s: Settings) =>
    new Option('--broker <url>', 'broker URL (mqtt://, mqtts://, ws://, wss://)')
      .argParser(parseBrokerUrl())
      .env('PAYSPEAKER_BROKER')
      .default(s.broker ?? 'mqtt://127.0.0.1:1883'),
  /** The notification API (`pay`, `payments`, `ota`); checked as a URL when parsed. */
  api: (s: Settings, description = 'the notification API (npx payspeaker broker serves it)') =>
    new Option('--api <url>', description)
      .argParser(parseApiUrl())
      .env('PAYSPEAKER_API')
      .default(s.api ?? `http://127.0.0.1:${DEFAULT_HTTP_PORT}`),
  json: () => new Option('--json', 'print one JSON object per line for scripts'),
  logLevel: (s: Settings) =>
    new Option('--log-level <level>', 'log level (logs go to stderr)')
      .choices(LOG_LEVELS)
      .env('PAYSPEAKER_LOG_LEVEL')
      .default(s.logLevel ?? 'info'),
};
