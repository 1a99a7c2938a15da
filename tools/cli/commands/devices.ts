/** `payspeaker devices`: the provisioned devices, with status, presence and last seen. */
import { Command } from 'commander';
import { registryExists, type RegistryEntry } from '../../../broker/registry.ts';
import { registryFile } from '../../../broker/data-dir.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { addDataOption, resolveDataDir, withRegistry, type DataFlags } from '../data-option.ts';

interface DevicesFlags extends DataFlags {
  json?: boolean;
}

export function devicesCommand(ctx: CliContext): Command {
  const cmd = new Command('devices')
    .description(
      'list provisioned devices: status, online, last seen (as recorded by the broker using this data directory)',
    )
    .addOption(commonOptions.json());
  return addDataOption(cmd, ctx.settings).action((flags: DevicesFlags) => {
    const dataDir = resolveDataDir(flags);
    const devices = registryExists(dataDir) ? listDevices(dataDir) : [];
    if (flags.json) {
      for (const d of devices) ctx.print(JSON.stringify(d));
    } else if (devices.length === 0) {
      ctx.print(`no devices in ${registryFile(dataDir)}: add one with "npx payspeaker provision SPK-0001"`);
    } else {
      for (const line of table(devices)) ctx.print(line);
    }
  });
}

function listDevices(dataDir: string): RegistryEntry[] {
  return withRegistry(dataDir, (registry) => registry.list('device'));
}

function table(devices: RegistryEntry[]): string[] {
  const rows = [
    ['ID', 'STATUS', 'ONLINE', 'LAST SEEN'],
    ...devices.map((d) => [
      d.id,
      d.status,
      d.online ? 'yes' : 'no',
      d.lastSeenAt === null ? 'never' : new Date(d.lastSeenAt).toISOString(),
    ]),
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return rows.map((r) =>
    r
      .map((cell, col) => cell.padEnd(widths[col]!))
      .join('  ')
      .trimEnd(),
  );
}
