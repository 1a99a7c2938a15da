/**
 * GET /v1/devices/:id: is the speaker online, when was it last heard from, and what happened
 * to the payments sent to it. Presence comes from the live MQTT connections, then the
 * registry (secure mode), then the state messages the tracker saw.
 *
 * Only devices: the registry also holds the backend's own identity (id `backend`, which no
 * device may take), and the API answers 404 for it as for any unknown device.
 */
import type { Aedes } from 'aedes';
import type { FastifyInstance } from 'fastify';
import { isDeviceId } from '../../src/protocol/index.ts';
import { deviceClientId } from '../auth.ts';
import { BACKEND_USERNAME } from '../credentials.ts';
import type { Outbox } from '../outbox/outbox.ts';
import type { Registry } from '../registry.ts';
import type { PlaybackTracker } from '../tracker.ts';
import { ApiError } from './errors.ts';
import type { ApiAuth } from './auth.ts';

export interface FleetView {
  aedes: Aedes;
  tracker: PlaybackTracker;
  registry: Registry | null;
}

export function deviceRoutes(app: FastifyInstance, outbox: Outbox, auth: ApiAuth, fleet: FleetView): void {
  app.get<{ Params: { id: string } }>('/v1/devices/:id', { onRequest: async (req) => auth(req) }, async (req) => {
    const { id } = req.params;
    if (!isDeviceId(id))
      throw new ApiError(
        400,
        'invalid-device',
        `${JSON.stringify(id)} is not a device id: use letters, digits, "-" or "_" (e.g. SPK-0001)`,
      );
    const found = isReservedId(id) ? null : (fleet.registry?.find(id) ?? null);
    // The backend's own identity is not a device, nor is anything else but a device.
    const identity = found?.role === 'device' ? found : null;
    const seen = isReservedId(id) ? undefined : fleet.tracker.device(id);
    const { counts, lastPaymentAt } = outbox.deviceSummary(id);
    const anyPayment = !isReservedId(id) && Object.values(counts).some((n) => n > 0);
    if (!identity && !seen && !anyPayment) {
      const hint = isReservedId(id)
        ? `"${id}" is the backend's own identity, not a device`
        : fleet.registry
          ? `provision it with "npx payspeaker provision ${id}"`
          : 'start it with "npx payspeaker device --id ' + id + '"';
      throw new ApiError(404, 'unknown-device', `device ${id} is not known to this broker: ${hint}`);
    }
    const connected = isConnected(fleet.aedes, deviceClientId(id));
    const lastSeen = Math.max(identity?.lastSeenAt ?? 0, seen?.lastSeen ?? 0) || null;
    return {
      device: {
        id,
        ...(identity && { status: identity.status }),
        online: connected,
        lastSeen: connected ? Date.now() : lastSeen,
        lastPaymentAt,
        payments: counts,
        ...(seen && { acks: seen.counts }),
      },
    };
  });
}

/** `backend` (any case) is the backend's identity: provisioning refuses it as a device id. */
export function isReservedId(id: string): boolean {
  return id.toLowerCase() === BACKEND_USERNAME;
}

/** aedes keeps live clients by id; its typings do not declare the map. */
function isConnected(aedes: Aedes, clientId: string): boolean {
  return Boolean((aedes as unknown as { clients: Record<string, unknown> }).clients[clientId]);
}
