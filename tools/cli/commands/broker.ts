/**
 * `payspeaker broker`: the embedded aedes broker on TCP and WebSocket until SIGINT/SIGTERM.
 * Secure by default: clients need credentials from the registry in DIR/broker (`provision`);
 * `--insecure` lets anyone in, with a warning. `--tls` adds mqtts and wss listeners with the
 * certificate `payspeaker certs` made in DIR/certs/ (`--tls-only`: and no plain ones); SIGHUP
 * reloads that certificate and key without dropping anyone. The web console is served at the
 * HTTP port's `/` (broker/http/console.ts); its URL is printed on start.
 */
import { X509Certificate } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { startBroker, type SecurityOptions } from '../../../broker/broker.ts';
import { DEFAULT_LIMITS } from '../../../broker/limits.ts';
import { backendCredentialsFile, registryFile } from '../../../broker/data-dir.ts';
import { loadServerTls, tlsFiles } from '../../../broker/tls.ts';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from '../../../broker/listeners.ts';
import { normalizeOrigin } from '../../../broker/origins.ts';
import type { Logger } from '../../../src/log.ts';
import { PersistenceConfigError } from '../../../broker/persistence.ts';
import { addDataOption, resolveDataDir } from '../data-option.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { parseCount, parsePort } from '../options.ts';
import { untilShutdown } from '../signals.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { limitsFrom, originsFrom, serviceFrom, tlsFrom, type BrokerFlags } from './broker-options.ts';
import { consoleLine, listeningLine, plainListenersWarning } from './broker-lines.ts';

export { plainListenersWarning };
import { DEFAULT_HTTP_PORT } from '../../../broker/service.ts';

const D = DEFAULT_LIMITS;

function parseOrigins(fromSettings: string[]) {
  return (text: string, previous: string[]): string[] => {
    const base = previous === fromSettings ? [] : previous;
    try {
      return [
        ...base,
        ...text
          .split(',')
          .filter((o) => o.trim() !== '')
          .map(normalizeOrigin),
      ];
    } catch (err) {
      throw new InvalidArgumentError(`--ws-origin: ${(err as Error).message}`);
    }
  };
}

export function brokerCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const settingsOrigins = s.wsOrigins ?? [];
  const cmd = new Command('broker')
    .description('run the MQTT broker (aedes) that carries notifications to speakers')
    .addOption(
      new Option('--host <address>', 'address to listen on').env('PAYSPEAKER_HOST').default(s.host ?? '127.0.0.1'),
    )
    .addOption(
      new Option('--port <port>', 'MQTT TCP port (0 = any free port)')
        .env('PAYSPEAKER_PORT')
        .argParser(parsePort('--port'))
        .default(s.port ?? 1883),
    )
    .addOption(
      new Option('--ws-port <port>', 'MQTT-over-WebSocket port (0 = any free port)')
        .env('PAYSPEAKER_WS_PORT')
        .argParser(parsePort('--ws-port'))
        .default(s.wsPort ?? 8080),
    )
    .option('--no-ws-port', 'do not listen for WebSocket connections')
    .addOption(
      new Option(
        '--ws-origin <origin>',
        "a browser page's origin (http(s)://host[:port]) allowed to open WebSocket connections, repeatable; * allows any (default: only the broker's own HTTP API origin; clients that send no Origin, i.e. everything but browsers, are always accepted)",
      )
        .env('PAYSPEAKER_WS_ORIGIN')
        .argParser(parseOrigins(settingsOrigins))
        .default(settingsOrigins),
    )
    .addOption(
      new Option('--max-packet <bytes>', 'largest MQTT packet; a bigger one drops the connection (0 = no cap)')
        .argParser(parseCount('--max-packet', 0))
        .default(D.maxPacketBytes),
    )
    .addOption(
      new Option('--max-topic-levels <n>', 'most levels in a topic (1-100)')
        .argParser(parseCount('--max-topic-levels'))
        .default(D.maxTopicLevels),
    )
    .addOption(
      new Option('--max-client-id <chars>', 'longest client id')
        .argParser(parseCount('--max-client-id'))
        .default(D.maxClientIdLength),
    )
    .addOption(
      new Option('--max-inflight <n>', 'inbound QoS 2 messages a client may hold awaiting PUBREL')
        .argParser(parseCount('--max-inflight'))
        .default(D.maxInflightInbound),
    )
    .addOption(
      new Option('--connect-rate <per-second>', 'new connections per second per client address (0 = no limit)')
        .argParser(parseCount('--connect-rate', 0))
        .default(D.connectRate!.perSecond),
    )
    .addOption(
      new Option('--connect-burst <n>', 'connections one address may open at once before --connect-rate applies')
        .argParser(parseCount('--connect-burst'))
        .default(D.connectRate!.burst),
    )
    .addOption(
      new Option('--connect-timeout <ms>', 'drop a connection that sends no CONNECT within this time')
        .argParser(parseCount('--connect-timeout', 100))
        .default(D.connectTimeoutMs),
    )
    .option(
      '--tls',
      'also listen for MQTT over TLS (mqtts) and secure WebSocket (wss), with the certificate from "payspeaker certs"',
    )
    .option(
      '--tls-only',
      'with --tls: do not open the plain MQTT and WebSocket listeners (--port and --ws-port are ignored)',
    )
    .addOption(
      new Option(
        '--handshake-timeout <ms>',
        'close a connection that has not finished its TLS handshake, or sent its WebSocket upgrade request, within this time',
      )
        .argParser(parseCount('--handshake-timeout', 100))
        .default(DEFAULT_HANDSHAKE_TIMEOUT_MS),
    )
    .addOption(
      new Option('--tls-port <port>', 'mqtts port, with --tls (0 = any free port)')
        .env('PAYSPEAKER_TLS_PORT')
        .argParser(parsePort('--tls-port'))
        .default(8883),
    )
    .addOption(
      new Option('--wss-port <port>', 'MQTT-over-secure-WebSocket port, with --tls (0 = any free port)')
        .env('PAYSPEAKER_WSS_PORT')
        .argParser(parsePort('--wss-port'))
        .default(8443),
    )
    .option('--no-wss-port', 'with --tls, do not listen for secure WebSocket connections')
    .option('--tls-cert <file>', "the broker's certificate, PEM (default: DIR/certs/server.pem)")
    .option('--tls-key <file>', "the broker's private key, PEM (default: DIR/certs/server-key.pem)")
    .addOption(
      new Option(
        '--http-port <port>',
        'notification API (HTTP) port for payment backends, also serving the web console at / (0 = any free port)',
      )
        .env('PAYSPEAKER_HTTP_PORT')
        .argParser(parsePort('--http-port'))
        .default(s.httpPort ?? DEFAULT_HTTP_PORT),
    )
    .option(
      '--no-http-port',
      'do not serve the notification API or the web console (payments still flow over MQTT and the outbox)',
    )
    .option(
      '--firmware-dir <dir>',
      'firmware releases served to speakers for over-the-air updates at /v1/firmware/ (default: DIR/broker/firmware; "payspeaker ota" uploads there)',
    )
    .addOption(
      new Option(
        '--payment-ttl <duration>',
        'keep re-publishing a payment without a final ack for this long, then mark it expired (max 24h)',
      )
        .env('PAYSPEAKER_PAYMENT_TTL')
        .default(s.paymentTtl ?? '1h'),
    )
    .addOption(
      new Option('--retry-after <duration>', 'first re-publish of an unacknowledged payment; doubles each time')
        .env('PAYSPEAKER_RETRY_AFTER')
        .default(s.retryAfter ?? '5s'),
    )
    .addOption(
      new Option('--retry-max <duration>', 'longest wait between re-publishes')
        .env('PAYSPEAKER_RETRY_MAX')
        .default(s.retryMax ?? '5m'),
    )
    .addOption(
      new Option(
        '--persistence <url>',
        'where sessions (queued QoS 1 messages) and retained messages live: "memory" (lost on restart) or redis://[user:password@]host[:port][/db] (docs/CLUSTER.md)',
      )
        .env('PAYSPEAKER_PERSISTENCE')
        .default(s.persistence ?? 'memory'),
    )
    .addOption(
      new Option(
        '--cluster <redis-url>',
        'share sessions and every publish with the other brokers on this Redis (each broker needs its own ports; implies --persistence there)',
      )
        .env('PAYSPEAKER_CLUSTER')
        .default(s.cluster),
    )
    .option(
      '--insecure',
      'let anyone connect, publish and subscribe without credentials (a demo on a trusted machine only)',
    )
    .addOption(commonOptions.json())
    .addOption(commonOptions.logLevel(s));
  return addDataOption(cmd, s).action(async (flags: BrokerFlags) => {
    const log = ctx.logger({ level: flags.logLevel, json: Boolean(flags.json), name: 'broker' });
    const dataDir = resolveDataDir(flags);
    const security: SecurityOptions = flags.insecure ? { mode: 'insecure' } : { mode: 'secure', dataDir };
    const wsPort = flags.wsPort === false ? null : flags.wsPort;
    if (flags.tlsOnly && !flags.tls)
      throw new CliError(
        '--tls-only needs --tls: add --tls (with a certificate from "npx payspeaker certs", or --tls-cert/--tls-key), or drop --tls-only',
      );
    const tls = flags.tls ? tlsFrom(flags, dataDir) : undefined;
    const service = serviceFrom(flags, dataDir);
    // The default "memory" gives way to --cluster; only an explicit --persistence memory clashes with it.
    const persistence =
      cmd.getOptionValueSource('persistence') === 'default' && s.persistence === undefined
        ? undefined
        : flags.persistence;
    const broker = await startBroker({
      host: flags.host,
      port: flags.port,
      wsPort,
      log,
      security,
      limits: limitsFrom(flags),
      tls,
      tlsOnly: Boolean(flags.tlsOnly),
      handshakeTimeoutMs: flags.handshakeTimeout,
      wsOrigins: originsFrom(flags.wsOrigin),
      service,
      persistence,
      cluster: flags.cluster,
    }).catch((err: Error) => {
      throw new CliError(err.message, err instanceof PersistenceConfigError ? EXIT.USAGE : EXIT.NOT_STARTED);
    });
    // Signal handlers before the listening line: whoever reads it may signal at once, and a
    // signal that arrives before its handler would kill the process instead of stopping it.
    const shutdown = untilShutdown();
    const stopReloading = tls ? reloadOnSighup(flags, dataDir, broker, log, ctx) : () => {};
    const registry = security.mode === 'secure' ? registryFile(dataDir) : null;
    const backendCredentials = security.mode === 'secure' ? backendCredentialsFile(dataDir) : null;
    const plainMqtt = broker.tlsOnly ? null : broker.mqttUrl;
    const urls = [plainMqtt, broker.wsUrl, broker.mqttsUrl, broker.wssUrl].filter((u): u is string => u !== null);
    const exposed = plainListenersWarning(flags.host, {
      mqtt: plainMqtt,
      ws: broker.tlsOnly ? null : broker.wsUrl,
      http: broker.service?.httpUrl ?? null,
    });
    if (exposed) log.warn({ host: flags.host }, exposed);
    const consoleUrl = broker.service?.httpUrl ? `${broker.service.httpUrl}/` : null;
    if (flags.json) {
      const tlsInfo = tls
        ? { mqtts: broker.mqttsUrl, wss: broker.wssUrl, ca: tlsFiles(dataDir).ca, tlsOnly: broker.tlsOnly }
        : {};
      ctx.print(
        JSON.stringify({
          event: 'listening',
          mqtt: plainMqtt,
          ws: broker.wsUrl,
          http: broker.service?.httpUrl ?? null,
          console: consoleUrl,
          ...tlsInfo,
          security: security.mode,
          registry,
          backendCredentials,
        }),
      );
    } else {
      ctx.print(listeningLine(urls, registry, broker.service?.httpUrl ?? null, broker.tlsOnly));
      if (consoleUrl) ctx.print(consoleLine(consoleUrl, backendCredentials));
    }
    const signal = await shutdown;
    stopReloading();
    log.info({ signal }, 'shutting down');
    await broker.close();
  });
}

/**
 * SIGHUP reloads the certificate and key from the same files (say, after "certs --force" or a
 * renewal job): new handshakes get the new certificate, established connections keep theirs. A
 * pair that fails loadServerTls's checks (unreadable, mismatched, expired) is refused with a log
 * line and the old one stays. With --json, each outcome is also an event on stdout.
 */
function reloadOnSighup(
  flags: BrokerFlags,
  dataDir: string,
  broker: Awaited<ReturnType<typeof startBroker>>,
  log: Logger,
  ctx: CliContext,
): () => void {
  const files = tlsFiles(dataDir);
  const certFile = flags.tlsCert ?? files.cert;
  const keyFile = flags.tlsKey ?? files.key;
  const onHup = () => {
    try {
      const pems = loadServerTls(certFile, keyFile);
      broker.reloadTls(pems);
      const x = new X509Certificate(pems.cert);
      log.info(
        { cert: certFile, fingerprint256: x.fingerprint256, validTo: x.validTo },
        `SIGHUP: reloaded the TLS certificate ${certFile} (valid to ${x.validTo}); new connections use it`,
      );
      if (flags.json)
        ctx.print(JSON.stringify({ event: 'tls-reloaded', cert: certFile, fingerprint256: x.fingerprint256 }));
    } catch (err) {
      const why = (err as Error).message;
      log.error(
        { cert: certFile, key: keyFile, err: why },
        `SIGHUP: kept the old TLS certificate, the new one was refused: ${why}`,
      );
      if (flags.json) ctx.print(JSON.stringify({ event: 'tls-reload-refused', cert: certFile, error: why }));
    }
  };
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}
