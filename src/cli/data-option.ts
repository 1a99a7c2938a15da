/** `--data DIR`: the data directory shared by broker, provision, devices, revoke, pay and command. */
import { Option, type Command } from 'commander';
import { defaultDataDir, type Settings } from '../config.ts';

export interface DataFlags {
  data?: string;
  /** The spelling `device` uses; accepted here too so one habit works everywhere. */
  dataDir?: string;
}

export function addDataOption(cmd: Command, s: Settings): Command {
  return cmd
    .addOption(new Option('--data <dir>', "data directory; the broker's registry is DIR/broker/registry.sqlite (default: the user data dir)").env('PAYSPEAKER_DATA_DIR').default(s.dataDir))
    .addOption(new Option('--data-dir <dir>').hideHelp());
}

export function resolveDataDir(flags: DataFlags): string {
  return flags.dataDir ?? flags.data ?? defaultDataDir();
}

