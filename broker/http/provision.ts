/**
 * POST /v1/devices/:id/provision[?renew=1]: what `npx payspeaker provision ID` does, over HTTP,
 * so the web console can give a speaker in a browser tab its own identity without anyone
 * typing a secret. The identity goes into the same registry, hashed the same way
 * (broker/credentials.ts); the password is in this one answer and nowhere else — the broker keeps
 * only its salted hash, and the answer says `Cache-Control: no-store`.
 *
 * Secure brokers only: an --insecure broker has no registry, and its speakers need no identity.
 */
import type { Aedes } from 'aedes';
import type { FastifyInstance } from 'fastify';
import { isDeviceId } from '../../src/protocol/index.ts';
import { deviceClientId } from '../auth.ts';
import { provisionDevice, ProvisioningError } from '../credentials.ts';
import type { Registry } from '../registry.ts';
import type { ApiAuth } from './auth.ts';
import { ApiError } from './errors.ts';
import { isReservedId } from './devices.ts';

export interface ProvisionRouteOptions {
  aedes: Aedes;
  /** Null on an --insecure broker: the endpoint then says why it cannot provision. */
  registry: Registry | null;
  /** SPKI PEM of the backend's signing key, which the new speaker must trust; null if the broker has none. */
  backendPublicKeyPem: string | null;
  auth: ApiAuth;
  now?: () => number;
}

export interface ProvisionAnswer {
  device: string;
  credentials: { username: string; password: string };
  backendPublicKeyPem: string | null;
}

export function provisionRoutes(app: FastifyInstance, opts: ProvisionRouteOptions): void {
  const now = opts.now ?? Date.now;
  app.post<{ Params: { id: string }; Querystring: { renew?: unknown } }>(
    '/v1/devices/:id/provision',
    { onRequest: async (req) => opts.auth(req) },
    async (req, reply) => {
      const id = req.params.id;
      const renew = renewParam(req.query.renew);
      const registry = opts.registry;
      if (!registry)
        throw new ApiError(
          409,
          'insecure-broker',
          `this broker runs with --insecure: it has no device registry and its speakers connect without credentials, so there is nothing to provision; start ${isDeviceId(id) ? id : 'the speaker'} without credentials, or restart the broker without --insecure to give speakers identities`,
        );
      if (!isDeviceId(id))
        throw new ApiError(
          400,
          'invalid-device',
          `${JSON.stringify(id)} is not a device id: use 1-64 letters, digits, "-" or "_", starting with a letter or digit (e.g. SPK-WEB-1)`,
          'device',
        );
      if (isReservedId(id))
        throw new ApiError(
          400,
          'reserved-device-id',
          `"${id}" is reserved for the backend's own identity: choose another device id (e.g. SPK-WEB-1)`,
          'device',
        );
      const existing = registry.find(id);
      if (existing && !renew)
        throw new ApiError(
          409,
          'already-provisioned',
          `device ${id} is already provisioned (${existing.status} since ${new Date(existing.createdAt).toISOString()}): pass ?renew=1 to issue a new password (the old one stops working at once)`,
          'device',
        );
      let device;
      try {
        device = provisionDevice(registry, id, { force: renew, now: now() });
      } catch (err) {
        // Another provisioning of the same id (the CLI, a second tab) won since the check above.
        if (err instanceof ProvisioningError)
          throw new ApiError(
            409,
            'already-provisioned',
            `device ${id} was provisioned by someone else just now: pass ?renew=1 to issue a new password`,
            'device',
          );
        throw err;
      }
      // The broker notices registry changes made by *other* processes (broker/sessions.ts); this
      // one is its own, so a speaker still connected with the old password is dropped here. It
      // cannot come back with that password: the registry now holds only the new one's hash.
      if (device.rotated) disconnect(opts.aedes, deviceClientId(id));
      const answer: ProvisionAnswer = {
        device: id,
        credentials: { username: device.username, password: device.password },
        backendPublicKeyPem: opts.backendPublicKeyPem,
      };
      // A secret: no cache (a browser's, a proxy's) may keep a copy.
      return reply.code(201).header('cache-control', 'no-store').header('location', `/v1/devices/${id}`).send(answer);
    },
  );
}

/** `renew=1` or `renew=true`; absent or `0`/`false` is a first provisioning. */
function renewParam(value: unknown): boolean {
  if (value === undefined || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true' || value === '') return true;
  throw new ApiError(
    400,
    'invalid-renew',
    `?renew=${String(value).slice(0, 40)} is not understood: pass renew=1 to issue a new password for a provisioned device, or leave it out`,
  );
}

/** aedes keeps live clients by id; its typings do not declare the map. */
function disconnect(aedes: Aedes, clientId: string): void {
  const client = (aedes as unknown as { clients: Record<string, { close(): void } | undefined> }).clients[clientId];
  client?.close();
}
