/**
 * `payspeaker broker`: the embedded aedes broker on TCP and WebSocket until SIGINT/SIGTERM.
 * Secure by default: clients need credentials from the registry in DIR/broker (`provision`);
 * `--insecure` lets anyone in, with a warning.
 */
import { Command, Option } from 'commander';
import { startBroker, type SecurityOptions } from '../../../broker/broker.ts';
import { backendCredentialsFile, registryFile } from '../../../broker/data-dir.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { parsePort } from '../options.ts';
import { untilShutdown } from '../signals.ts';
import { CliError, EXIT } from '../exit-codes.ts';

interface BrokerFlags extends DataFlags {
  insecure?: boolean;
  host: string;
  port: number;
  wsPort: number | false;
  json?: boolean;
  logLevel: 'info';
}

export function brokerCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new Command('broker')
    .description('run the MQTT broker (aedes) that carries notifications to speakers')
    .addOption(new Option('--host <address>', 'address to listen on').env('PAYSPEAKER_HOST').default(s.host ?? '127.0.0.1'))
    .addOption(new Option('--port <port>', 'MQTT TCP port (0 = any free port)').env('PAYSPEAKER_PORT').argParser(parsePort('--port')).default(s.port ?? 1883))
    .addOption(
      new Option('--ws-port <port>', 'MQTT-over-WebSocket port (0 = any free port)')
        .env('PAYSPEAKER_WS_PORT')
        .argParser(parsePort('--ws-port'))
        .default(s.wsPort ?? 8080),
    )
    .option('--no-ws-port', 'do not listen for WebSocket connections')
    .option('--insecure', 'let anyone connect, publish and subscribe without credentials (a demo on a trusted machine only)')
    .addOption(commonOptions.json())
    .addOption(commonOptions.logLevel(s));
  return addDataOption(cmd, s).action(async (flags: BrokerFlags) => {
    const log = ctx.logger({ level: flags.logLevel, json: Boolean(flags.json), name: 'broker' });
    const dataDir = resolveDataDir(flags);
    const security: SecurityOptions = flags.insecure ? { mode: 'insecure' } : { mode: 'secure', dataDir };
    const wsPort = flags.wsPort === false ? null : flags.wsPort;
    const broker = await startBroker({ host: flags.host, port: flags.port, wsPort, log, security }).catch((err: Error) => {
      throw new CliError(err.message, EXIT.FAILURE);
    });
    const registry = security.mode === 'secure' ? registryFile(dataDir) : null;
    const backendCredentials = security.mode === 'secure' ? backendCredentialsFile(dataDir) : null;
    if (flags.json) ctx.print(JSON.stringify({ event: 'listening', mqtt: broker.mqttUrl, ws: broker.wsUrl, security: security.mode, registry, backendCredentials }));
    else ctx.print(listeningLine(broker.mqttUrl, broker.wsUrl, registry));
    const signal = await untilShutdown();
    log.info({ signal }, 'shutting down');
    await broker.close();
  });
}

function listeningLine(mqtt: string, ws: string | null, registry: string | null): string {
  const urls = `broker listening on ${mqtt}${ws ? ` and ${ws}` : ''}`;
  const access = registry ? `devices need credentials (npx payspeaker provision ID); registry ${registry}` : 'INSECURE: no credentials needed';
  return `${urls}; ${access} (Ctrl-C to stop)`;
}
