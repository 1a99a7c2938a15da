/**
 * The notification service's HTTP API (fastify): payment backends POST payments here instead
 * of speaking MQTT. It runs inside the broker process, next to the outbox it writes to.
 * See docs/API.md.
 */
import type { KeyObject } from 'node:crypto';
import Fastify from 'fastify';
import type { Logger } from '../../src/log.ts';
import type { Socket } from 'node:net';
import { wrongPortMessage } from '../../src/mqtt/wrong-port.ts';
import type { Outbox } from '../outbox/outbox.ts';
import {
  ApiError,
  clientErrorHandler,
  errorBody,
  installErrorHandling,
  parseJsonBody,
  routerErrorHandler,
  type RequestLimits,
} from './errors.ts';
import { backendOrDeviceAuth, backendTokenAuth, openAccess } from './auth.ts';
import { paymentRoutes, PAYMENT_FIELD_HINTS } from './payments.ts';
import { deviceRoutes, isReservedId, type FleetView } from './devices.ts';
import { firmwareRoutes, type FirmwareStore } from './images.ts';
import { eventRoutes, EventStreams, type EventStreamOptions } from './events.ts';
import { infoRoutes } from './info.ts';
import { commandRoutes } from './commands.ts';
import { provisionRoutes } from './provision.ts';
import { VoicePackSource, voiceRoutes, type VoicePackSourceOptions } from './voices.ts';
import { consoleRoutes, type ConsoleOptions } from './console.ts';

export interface HttpApiOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  outbox: Outbox;
  fleet: FleetView;
  log: Logger;
  /** Firmware releases for over-the-air updates (GET/PUT /v1/firmware/<file>). */
  firmware?: FirmwareStore;
  /** GET /v1/events' keepalive period and per-client buffer bound (tests shorten them). */
  events?: EventStreamOptions;
  /** The backend's signing key (commands are signed with it) and its public PEM (provisioning hands it out). */
  backendKeys?: { privateKey: KeyObject | null; publicKeyPem: string | null };
  /** Where GET /v1/voices/… finds and records voice packs; default: the Node clip voice's cache, eSpeak NG. */
  voices?: Omit<VoicePackSourceOptions, 'log'>;
  /** Where the web console at / is bundled from; default console/ of this package (tests point at a fixture). */
  console?: Pick<ConsoleOptions, 'dir' | 'entry'>;
}

export interface HttpApi {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A payment is ~200 bytes of JSON; 16 KiB is plenty and bounds what a client can make us parse.
 * Ids and firmware file names are far shorter than 100 characters (find-my-way's default).
 */
const LIMITS: RequestLimits = { bodyLimit: 16 * 1024, maxParamLength: 100 };

const unknownDevice = (device: string) =>
  new ApiError(
    404,
    'unknown-device',
    isReservedId(device)
      ? `device ${device} is not provisioned on this broker: "${device}" is the backend's own identity, not a device`
      : `device ${device} is not provisioned on this broker: run "npx payspeaker provision ${device}" first`,
    'device',
  );

/**
 * An MQTT client pointed at this port: its first packet is a CONNECT, whose fixed header's
 * first byte is 0x10 (MQTT 3.1.1 §3.1.1), which Node's HTTP parser refuses as a method.
 */
function isMqttConnect(err: Error & { code?: string }): boolean {
  return err.code === 'HPE_INVALID_METHOD' && (err as { rawPacket?: Buffer }).rawPacket?.[0] === 0x10;
}

/** The API's clientErrorHandler, with an MQTT client's CONNECT answered in its own words. */
function mqttAwareClientErrorHandler(mqttUrl: string | null) {
  return (err: Error & { code?: string }, socket: Socket): void =>
    isMqttConnect(err) ? answerMqttClient(socket, mqttUrl) : clientErrorHandler(err, socket);
}

/**
 * A 400 whose body says which port MQTT is on. An MQTT client reads "HTTP/1.1" as a malformed
 * packet and words its own error (src/mqtt/wrong-port.ts recognises it); this body is for a
 * person looking at the bytes (a packet capture, nc, mosquitto_pub -d).
 */
function answerMqttClient(socket: Socket, mqttUrl: string | null): void {
  if (socket.destroyed || !socket.writable) return void socket.destroy();
  const where = mqttUrl ? ` (here ${mqttUrl})` : '';
  const body = JSON.stringify(errorBody('mqtt-on-http-port', `${wrongPortMessage()}${where}`));
  socket.end(
    `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

export async function startHttpApi(opts: HttpApiOptions): Promise<HttpApi> {
  const app = Fastify({
    logger: false,
    bodyLimit: LIMITS.bodyLimit,
    routerOptions: { maxParamLength: LIMITS.maxParamLength },
    // What fastify and Node's HTTP parser refuse before a route runs gets the API's error shape too.
    frameworkErrors: routerErrorHandler(LIMITS),
    clientErrorHandler: mqttAwareClientErrorHandler(opts.fleet.mqtt?.tcp ?? null),
    forceCloseConnections: true,
    // No coercion ("12.5" must not become 12) and no silent removal of unknown fields.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  const { registry } = opts.fleet;
  const auth = registry ? backendTokenAuth(registry) : openAccess;
  installErrorHandling(app, opts.log, PAYMENT_FIELD_HINTS, LIMITS);
  // JSON only: fastify would otherwise hand a text/plain body to the schema as a string.
  app.removeContentTypeParser('text/plain');
  // Our own JSON parser: it says what was wrong, and refuses __proto__ and constructor keys by name.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.get('/v1/health', async () => ({ ok: true }));
  paymentRoutes(app, opts.outbox, auth, (device) => {
    if (isReservedId(device)) throw unknownDevice(device);
    if (!registry) return;
    const identity = registry.find(device);
    if (!identity || identity.role !== 'device') throw unknownDevice(device);
    if (identity.status === 'revoked') {
      throw new ApiError(
        409,
        'device-revoked',
        `device ${device} was revoked: provision it again ("npx payspeaker provision ${device} --force") before sending it payments`,
        'device',
      );
    }
  });
  deviceRoutes(app, opts.outbox, auth, opts.fleet);
  if (opts.firmware) firmwareRoutes(app, opts.firmware, auth);
  eventRoutes(app, new EventStreams(opts.outbox, opts.fleet, opts.log, opts.events), auth);
  infoRoutes(app, { insecure: !registry, mqtt: opts.fleet.mqtt, backendPublicKey: opts.firmware?.publicKey });
  const { aedes } = opts.fleet;
  const keys = opts.backendKeys ?? { privateKey: null, publicKeyPem: null };
  commandRoutes(app, { aedes, registry, signingKey: keys.privateKey, auth });
  provisionRoutes(app, { aedes, registry, backendPublicKeyPem: keys.publicKeyPem, auth });
  // Speakers fetch voice packs with their own credentials; the backend token works too.
  voiceRoutes(
    app,
    new VoicePackSource({ ...opts.voices, log: opts.log }),
    registry ? backendOrDeviceAuth(registry) : openAccess,
  );
  consoleRoutes(app, { ...opts.console, log: opts.log, mqtt: opts.fleet.mqtt });
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await app.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE')
      throw new Error(
        `HTTP port ${opts.port} on ${opts.host} is in use: pass --http-port with a free port (or 0 for any)`,
        { cause: err },
      );
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return { url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`, close: () => app.close() };
}
