/**
 * `payspeaker certs`: a development certificate authority and a broker certificate it signs, in
 * DIR/certs/, for `payspeaker broker --tls`. `provision` copies the CA into every device config,
 * so devices trust this broker and nothing else.
 */
import { Command, Option } from 'commander';
import { CertsError, createDevelopmentCerts, DEFAULT_CERT_HOSTS, subjectAltNames } from '../../../broker/tls.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { parseCount } from '../options.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import fs from 'node:fs';

interface CertsFlags extends DataFlags {
  host?: string[];
  force?: boolean;
  newCa?: boolean;
  days: number;
  json?: boolean;
}

export function certsCommand(ctx: CliContext): Command {
  const cmd = new Command('certs')
    .description(
      'create a development CA and a broker certificate it signs (DIR/certs/), for "payspeaker broker --tls"',
    )
    .addOption(
      new Option(
        '--host <name-or-ip>',
        `a host name or IP address devices dial; repeat for several (default: ${DEFAULT_CERT_HOSTS.join(', ')})`,
      ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
    )
    .option('--force', 'issue a new broker certificate even if one exists (same CA: provisioned devices keep working)')
    .option('--new-ca', 'also make a new CA (every device must be provisioned again to trust it)')
    .addOption(
      new Option('--days <n>', 'validity of the broker certificate in days (the CA: ten times as long)')
        .argParser(parseCount('--days'))
        .default(825),
    )
    .addOption(commonOptions.json());
  return addDataOption(cmd, ctx.settings).action(async (flags: CertsFlags) => {
    const dataDir = resolveDataDir(flags);
    let made;
    try {
      made = await createDevelopmentCerts(dataDir, {
        hosts: flags.host,
        force: flags.force,
        newCa: flags.newCa,
        days: flags.days,
      });
    } catch (err) {
      if (err instanceof CertsError) throw new CliError(err.message);
      throw new CliError(`cannot create certificates in ${dataDir}: ${(err as Error).message}`, EXIT.FAILURE);
    }
    const { files } = made;
    const names = subjectAltNames(fs.readFileSync(files.cert, 'utf8'));
    if (flags.json) {
      ctx.print(
        JSON.stringify({
          event: 'certs',
          ...files,
          createdCa: made.createdCa,
          subjectAltNames: names,
          notAfter: made.notAfter.toISOString(),
        }),
      );
      return;
    }
    ctx.print(
      made.createdCa
        ? `made a development CA: ${files.ca} (key ${files.caKey}, mode 0600: keep it to yourself)`
        : `kept the existing CA ${files.ca}`,
    );
    ctx.print(
      `made the broker certificate ${files.cert} (key ${files.key}, mode 0600) for ${names.join(', ')}, valid until ${made.notAfter.toISOString().slice(0, 10)}`,
    );
    if (!made.createdCa)
      ctx.print('restart the broker (--tls) to use the new certificate; provisioned devices keep trusting it');
    else {
      ctx.print(
        'next: npx payspeaker broker --tls; provision devices (their config carries the CA) with --broker mqtts://HOST:8883',
      );
      if (flags.newCa)
        ctx.print('devices provisioned with the old CA no longer trust this broker: provision them again (--force)');
    }
  });
}
