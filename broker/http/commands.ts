/**
 * POST /v1/devices/:id/commands: press a speaker's button from a script or the web console —
 * volume, replay, today's summary, battery. The command is built and signed exactly as
 * `npx payspeaker command` does (broker/backend-commands.ts) and published on the device's cmd
 * topic at QoS 1; with `?wait=` the answer is held until the speaker's result arrives on its
 * cmd/result topic.
 *
 * Commands are not stored: unlike a payment, a button press that arrives an hour late is not
 * wanted (a speaker refuses commands older than 10 minutes anyway). A connected speaker gets it
 * at once; one that is offline with a persistent session (speakers connect with clean: false)
 * gets it from the broker when it comes back, if it is still fresh then.
 */
import type { ServerResponse } from 'node:http';
import type { KeyObject } from 'node:crypto';
import type { Aedes, AedesPublishPacket } from 'aedes';
import type { FastifyInstance } from 'fastify';
import { describeValue, isDeviceId, topics, type Command, type CommandResult } from '../../src/protocol/index.ts';
import { deviceClientId } from '../auth.ts';
import { buildCommand, commandArgs, CommandRequestError, signIfKeyed } from '../backend-commands.ts';
import type { Registry } from '../registry.ts';
import { clip } from '../log-throttle.ts';
import type { ApiAuth } from './auth.ts';
import { ApiError } from './errors.ts';
import { parseWait } from './wait.ts';

/** The longest a POST may wait for the speaker's result: a speaker answers in well under a second. */
export const MAX_COMMAND_WAIT_MS = 60_000;

export interface CommandRouteOptions {
  aedes: Aedes;
  /** Secure broker: commands go only to provisioned, active devices. Null on an --insecure broker. */
  registry: Registry | null;
  /** The backend's signing key; null sends commands unsigned (only an --insecure speaker runs them). */
  signingKey: KeyObject | null;
  auth: ApiAuth;
  now?: () => number;
}

/** The public shape of a sent command (what the 202 answers). */
export interface CommandView {
  id: string;
  device: string;
  command: string;
  args: Record<string, unknown>;
  createdAt: number;
}

export function commandRoutes(app: FastifyInstance, opts: CommandRouteOptions): void {
  const now = opts.now ?? Date.now;
  app.post<{ Params: { id: string }; Querystring: { wait?: unknown } }>(
    '/v1/devices/:id/commands',
    { onRequest: async (req) => opts.auth(req) },
    async (req, reply) => {
      const device = req.params.id;
      const waitMs = parseWait(waitParam(req.query.wait), MAX_COMMAND_WAIT_MS);
      checkDevice(device, opts.registry);
      const command = signIfKeyed(build(device, req.body, now()), opts.signingKey);
      const view = commandView(command);
      // Listening before publishing: a speaker on loopback can answer before publish's callback runs.
      const result = waitMs > 0 ? awaitResult(opts.aedes, device, command.id, waitMs, reply.raw) : null;
      try {
        await result?.subscribed;
        await publish(opts.aedes, topics.command(device), JSON.stringify(command));
      } catch (err) {
        result?.cancel();
        throw err;
      }
      if (!result) return reply.code(202).send({ command: view });
      const answer = await result.promise;
      if (answer) return reply.code(200).send({ command: view, result: answer });
      const online = isConnected(opts.aedes, deviceClientId(device));
      throw new ApiError(
        504,
        'no-result',
        `${device} has not answered command ${command.id} (${command.command}) within ${waitMs / 1000} s: the command was sent, ` +
          (online
            ? 'and the speaker is connected but busy or not running commands; try a longer ?wait='
            : 'but the speaker is not connected to this broker: it runs the command when it reconnects within 10 minutes, or start it and send the command again'),
      );
    },
  );
}

/** The body after the JSON parser: an object with "command" and optional "args", nothing else. */
function build(device: string, body: unknown, now: number): Command & { device: string; createdAt: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError(
      400,
      'invalid-body',
      `the request body must be a JSON object such as {"command": "set-volume", "args": {"value": 5}}; got ${describeValue(body)}`,
    );
  const b = body as Record<string, unknown>;
  const extra = Object.keys(b).find((k) => k !== 'command' && k !== 'args');
  if (extra !== undefined)
    throw new ApiError(400, 'unknown-field', `unknown field "${clip(extra, 40)}": the fields are command, args`, extra);
  if (b.command === undefined)
    throw new ApiError(
      400,
      'missing-field',
      '"command" is missing: it must be one of the commands in docs/API.md',
      'command',
    );
  if (b.args !== undefined && (typeof b.args !== 'object' || b.args === null || Array.isArray(b.args)))
    throw new ApiError(
      400,
      'invalid-field',
      `"args" is ${describeValue(b.args)}: it must be an object, e.g. {"value": 5} for set-volume`,
      'args',
    );
  try {
    return buildCommand(
      { device, command: b.command as string, args: b.args as Record<string, unknown> | undefined },
      now,
    );
  } catch (err) {
    if (!(err instanceof CommandRequestError)) throw err;
    const code = err.field === 'command' ? 'unknown-command' : err.field === 'args' ? 'invalid-args' : 'invalid-device';
    throw new ApiError(400, code, err.message, err.field);
  }
}

function checkDevice(device: string, registry: Registry | null): void {
  if (!isDeviceId(device))
    throw new ApiError(
      400,
      'invalid-device',
      `${JSON.stringify(device)} is not a device id: use letters, digits, "-" or "_" (e.g. SPK-0001)`,
      'device',
    );
  if (!registry) return; // --insecure: any speaker may be listening
  const identity = registry.find(device);
  if (!identity || identity.role !== 'device')
    throw new ApiError(
      404,
      'unknown-device',
      identity
        ? `device ${device} is not provisioned on this broker: "${device}" is the backend's own identity, not a device`
        : `device ${device} is not provisioned on this broker: provision it first (POST /v1/devices/${device}/provision or "npx payspeaker provision ${device}")`,
      'device',
    );
  if (identity.status === 'revoked')
    throw new ApiError(
      409,
      'device-revoked',
      `device ${device} was revoked: provision it again (POST /v1/devices/${device}/provision?renew=1) before sending it commands`,
      'device',
    );
}

function waitParam(wait: unknown): string | undefined {
  if (wait === undefined || typeof wait === 'string') return wait;
  throw new ApiError(400, 'invalid-wait', '?wait= is given more than once: give it once, e.g. wait=5s');
}

export function commandView(c: Command): CommandView {
  return { id: c.id, device: c.device!, command: c.command, args: commandArgs(c), createdAt: c.createdAt! };
}

/** QoS 1, not retained: a command is for now, never for a speaker that subscribes next week. */
function publish(aedes: Aedes, topic: string, payload: string): Promise<void> {
  const packet = { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false } as const;
  return new Promise((resolve, reject) =>
    aedes.publish(packet as AedesPublishPacket, (err) => (err ? reject(err) : resolve())),
  );
}

interface PendingResult {
  /** The speaker's result, or null when `waitMs` passed or the client left. */
  promise: Promise<CommandResult | null>;
  /** Resolves once the subscription is in place (with --cluster, Redis must hear of it first). */
  subscribed: Promise<void>;
  cancel(): void;
}

/** Subscribes (inside the broker, no MQTT client) to the device's cmd/result topic for one id. */
function awaitResult(aedes: Aedes, device: string, id: string, waitMs: number, res: ServerResponse): PendingResult {
  const topic = topics.commandResult(device);
  let finish: (r: CommandResult | null) => void = () => {};
  let ready = () => {};
  const subscribed = new Promise<void>((resolve) => (ready = resolve));
  const promise = new Promise<CommandResult | null>((resolve) => {
    const onMessage = (packet: AedesPublishPacket, done: () => void) => {
      done();
      const result = resultOf(packet.payload, id);
      if (result) finish(result);
    };
    const timer = setTimeout(() => finish(null), waitMs);
    const onClose = () => finish(null);
    finish = (r) => {
      clearTimeout(timer);
      res.off('close', onClose);
      aedes.unsubscribe(topic, onMessage, () => {});
      finish = () => {};
      resolve(r);
    };
    res.on('close', onClose);
    aedes.subscribe(topic, onMessage, () => ready());
  });
  return { promise, subscribed, cancel: () => finish(null) };
}

/**
 * The result with `id`, with only its known fields: the speaker chose the text, so strings are
 * cut to 1,000 characters as the outbox cuts an ack's. Anything else (another command's result,
 * malformed JSON) is null.
 */
function resultOf(payload: unknown, id: string): CommandResult | null {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.isBuffer(payload) ? payload.toString('utf8') : String(payload));
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (r.id !== id || typeof r.ok !== 'boolean') return null;
  const text = (k: string) => (typeof r[k] === 'string' ? { [k]: (r[k] as string).slice(0, 1000) } : {});
  return {
    v: 1,
    id,
    device: typeof r.device === 'string' ? r.device.slice(0, 64) : '',
    command: typeof r.command === 'string' ? (r.command.slice(0, 64) as CommandResult['command']) : null,
    ok: r.ok,
    ...(Number.isInteger(r.volume) && { volume: r.volume as number }),
    ...text('text'),
    ...text('error'),
    ...(typeof r.reason === 'string' && { reason: r.reason.slice(0, 64) as CommandResult['reason'] }),
    at: Number.isSafeInteger(r.at) ? (r.at as number) : 0,
  };
}

/** aedes keeps live clients by id; its typings do not declare the map. */
function isConnected(aedes: Aedes, clientId: string): boolean {
  return Boolean((aedes as unknown as { clients: Record<string, unknown> }).clients[clientId]);
}
