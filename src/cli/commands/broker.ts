/** `payspeaker broker`: the embedded aedes broker on TCP and WebSocket until SIGINT/SIGTERM. */
import { Command, Option } from 'commander';
import { startBroker } from '../../../broker/broker.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { parsePort } from '../options.ts';
import { untilShutdown } from '../signals.ts';
import { CliError, EXIT } from '../exit-codes.ts';

interface BrokerFlags {
  host: string;
  port: number;
  wsPort: number | false;
  json?: boolean;
  logLevel: 'info';
}

export function brokerCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  return new Command('broker')
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
    .addOption(commonOptions.json())
    .addOption(commonOptions.logLevel(s))
    .action(async (flags: BrokerFlags) => {
      const log = ctx.logger({ level: flags.logLevel, json: Boolean(flags.json), name: 'broker' });
      const broker = await startBroker({ host: flags.host, port: flags.port, wsPort: flags.wsPort === false ? null : flags.wsPort, log }).catch(
        (err: Error) => {
          throw new CliError(err.message, EXIT.FAILURE);
        },
      );
      if (flags.json) ctx.print(JSON.stringify({ event: 'listening', mqtt: broker.mqttUrl, ws: broker.wsUrl }));
      else ctx.print(`broker listening on ${broker.mqttUrl}${broker.wsUrl ? ` and ${broker.wsUrl}` : ''} (Ctrl-C to stop)`);
      const signal = await untilShutdown();
      log.info({ signal }, 'shutting down');
      await broker.close();
    });
}
