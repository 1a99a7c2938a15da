/**
 * `payspeaker revoke SPK-0001`: disable a device. The broker (another process) notices within
 * a second, closes the device's connection, and refuses it from then on (CONNACK 5).
 */
import { Command } from 'commander';
import { openRegistry, registryExists } from '../../../broker/registry.ts';
import { BACKEND_USERNAME } from '../../../broker/credentials.ts';
import { registryFile } from '../../../broker/data-dir.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';

interface RevokeFlags extends DataFlags {
  json?: boolean;
}

export function revokeCommand(ctx: CliContext): Command {
  const cmd = new Command('revoke')
    .description('disable a device: a running broker drops its connection and refuses it from then on')
    .argument('<device-id>', 'the device to disable, e.g. SPK-0001')
    .addOption(commonOptions.json());
  return addDataOption(cmd, ctx.settings).action((id: string, flags: RevokeFlags) => {
    if (id === BACKEND_USERNAME)
      throw new CliError(
        '"backend" is the backend\'s own identity, not a device: delete DIR/broker/backend.json and restart the broker to replace its secret',
      );
    const dataDir = resolveDataDir(flags);
    const notFound = `device ${JSON.stringify(id)} is not provisioned in ${registryFile(dataDir)}: "npx payspeaker devices" lists those that are`;
    if (!registryExists(dataDir)) throw new CliError(notFound);
    const registry = openRegistry(dataDir);
    try {
      const before = registry.find(id);
      if (before?.role !== 'device') throw new CliError(notFound);
      const already = before.status === 'revoked';
      if (!already) registry.revoke(id, Date.now());
      const revokedAt = registry.find(id)!.revokedAt!;
      if (flags.json) ctx.print(JSON.stringify({ event: 'revoked', id, revokedAt, alreadyRevoked: already }));
      else if (already) ctx.print(`${id} was already revoked (at ${new Date(revokedAt).toISOString()})`);
      else ctx.print(`revoked ${id}: a running broker drops its connection within a second and refuses it from now on`);
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`cannot revoke ${id}: ${(err as Error).message}`, EXIT.FAILURE);
    } finally {
      registry.close();
    }
  });
}
