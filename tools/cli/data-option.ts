/** `--data DIR`: the data directory shared by broker, provision, devices, revoke, pay and command. */
import { Option, type Command } from 'commander';
import { defaultDataDir, type Settings } from '../../src/config.ts';
import { openRegistry, type Registry } from '../../broker/registry.ts';
import { CliError, EXIT } from './exit-codes.ts';

export interface DataFlags {
  data?: string;
  /** The spelling `device` uses; accepted here too so one habit works everywhere. */
  dataDir?: string;
}

export function addDataOption(cmd: Command, s: Settings): Command {
  return cmd
    .addOption(
      new Option(
        '--data <dir>',
        "data directory; the broker's registry is DIR/broker/registry.sqlite (default: the user data dir)",
      )
        .env('PAYSPEAKER_DATA_DIR')
        .default(s.dataDir),
    )
    .addOption(new Option('--data-dir <dir>').hideHelp());
}

export function resolveDataDir(flags: DataFlags): string {
  return flags.dataDir ?? flags.data ?? defaultDataDir();
}

/** Opens the broker's registry for one command and always closes it again. */
export function withRegistry<T>(dataDir: string, use: (registry: Registry) => T): T {
  let registry: Registry;
  try {
    registry = openRegistry(dataDir);
  } catch (err) {
    throw new CliError(`${(err as Error).message}: check --data DIR`, EXIT.FAILURE);
  }
  try {
    return use(registry);
  } finally {
    registry.close();
  }
}
