/**
 * `--data DIR`: the one data directory every command shares (broker, provision, devices,
 * revoke, certs, pay, command, ota, device, …). `--data-dir` was `device`'s spelling; it still
 * works everywhere, with a one-line warning, so old scripts keep running while they are fixed.
 */
import { Option, type Command } from 'commander';
import { defaultDataDir, type Settings } from '../../src/config.ts';
import { openRegistry, type Registry } from '../../broker/registry.ts';
import { CliError, EXIT } from './exit-codes.ts';

export interface DataFlags {
  data?: string;
  /** The deprecated spelling: set only when typed, and then it wins (it is the more specific). */
  dataDir?: string;
}

const DEFAULT_DESCRIPTION =
  "data directory; the broker's registry is DIR/broker/registry.sqlite (default: the user data dir)";

export function addDataOption(cmd: Command, s: Settings, description = DEFAULT_DESCRIPTION): Command {
  return cmd.addOption(new Option('--data <dir>', description).env('PAYSPEAKER_DATA_DIR').default(s.dataDir)).addOption(
    new Option('--data-dir <dir>').hideHelp().argParser((dir: string) => {
      // Parsed once per occurrence on the command line, so the warning is printed once.
      process.stderr.write(`warning: --data-dir is deprecated, use --data ${dir} (the same on every command)\n`);
      return dir;
    }),
  );
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
