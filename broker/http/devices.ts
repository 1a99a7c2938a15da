/**
 * GET /v1/devices and GET /v1/devices/:id: is each speaker online, when was it last heard
 * from, what does it say about itself (its retained state: firmware, language, volume), and
 * what happened to the payments sent to it. Presence comes from the live MQTT connections,
 * then the registry (secure mode), then what the tracker saw.
 *
 * Only devices: the registry also holds the backend's own identity (id `backend`, which no
 * device may take), and the API answers 404 for it as for any unknown device, and never
 * lists it.
 */
import type { Aedes } from 'aedes';
import type { FastifyInstance } from 'fastify';
import { isDeviceId, type AckStatus } from '../../src/protocol/index.ts';
import { deviceClientId } from '../auth.ts';
import { BACKEND_USERNAME } from '../credentials.ts';
import type { Outbox } from '../outbox/outbox.ts';
import { zeroCounts, type StatusCounts } from '../outbox/status.ts';
import type { Registry, Status } from '../registry.ts';
import type { PlaybackTracker, ReportedState } from '../tracker.ts';
import type { MqttEndpoints } from './info.ts';
import { ApiError } from './errors.ts';
import { queryParams } from './payments.ts';
import type { ApiAuth } from './auth.ts';

export interface FleetView {
  aedes: Aedes;
  tracker: PlaybackTracker;
  registry: Registry | null;
  /**
   * Where devices (and the console) reach the broker over MQTT, for GET /v1/info. broker.ts
   * puts it into the parts it gives the notification service, which hands them on as the fleet.
   */
  mqtt?: MqttEndpoints;
}

/** One device as GET /v1/devices lists it, GET /v1/devices/:id shows it and the event stream sends it. */
export interface DeviceView {
  id: string;
  /** The registry's word, on a secure broker: `active` or `revoked`. */
  status?: Status;
  /** Whether it has a live MQTT connection to this broker now. */
  online: boolean;
  lastSeen: number | null;
  lastPaymentAt: number | null;
  /** The outbox's payments to it, by status. */
  payments: StatusCounts;
  /** The acks the broker has seen from it since it started. */
  acks: Record<AckStatus, number>;
  /** Its latest retained state message (or last will), as it sent it; null if none seen. */
  state: ReportedState | null;
}

type Summary = { counts: StatusCounts; lastPaymentAt: number | null };

export function deviceRoutes(app: FastifyInstance, outbox: Outbox, auth: ApiAuth, fleet: FleetView): void {
  app.get<{ Querystring: Record<string, unknown> }>(
    '/v1/devices',
    { onRequest: async (req) => auth(req) },
    async (req) => {
      queryParams(req.query, [], 'GET /v1/devices');
      return { devices: listDevices(fleet, outbox) };
    },
  );

  app.get<{ Params: { id: string } }>('/v1/devices/:id', { onRequest: async (req) => auth(req) }, async (req) => {
    const { id } = req.params;
    if (!isDeviceId(id)) throw invalidDevice(id);
    const device = deviceView(fleet, outbox, id);
    if (!device) {
      const hint = isReservedId(id)
        ? `"${id}" is the backend's own identity, not a device`
        : fleet.registry
          ? `provision it with "npx payspeaker provision ${id}"`
          : 'start it with "npx payspeaker device --id ' + id + '"';
      throw new ApiError(404, 'unknown-device', `device ${id} is not known to this broker: ${hint}`);
    }
    return { device };
  });
}

export function invalidDevice(id: string, field?: string): ApiError {
  return new ApiError(
    400,
    'invalid-device',
    `${JSON.stringify(id.slice(0, 80))} is not a device id: use letters, digits, "-" or "_" (e.g. SPK-0001)`,
    field,
  );
}

/** The device as the API shows it; null when the broker knows nothing of it (or it is the backend). */
export function deviceView(fleet: FleetView, outbox: Outbox, id: string, summary?: Summary): DeviceView | null {
  if (isReservedId(id)) return null;
  const found = fleet.registry?.find(id) ?? null;
  // The backend's own identity is not a device, nor is anything else but a device.
  const identity = found?.role === 'device' ? found : null;
  const seen = fleet.tracker.device(id);
  const { counts, lastPaymentAt } = summary ?? outbox.deviceSummary(id);
  const anyPayment = Object.values(counts).some((n) => n > 0);
  if (!identity && !seen && !anyPayment) return null;
  const connected = isConnected(fleet.aedes, deviceClientId(id));
  const lastSeen = Math.max(identity?.lastSeenAt ?? 0, seen?.lastSeen ?? 0) || null;
  return {
    id,
    ...(identity && { status: identity.status }),
    online: connected,
    lastSeen: connected ? Date.now() : lastSeen,
    lastPaymentAt,
    payments: counts,
    acks: { ...(seen?.counts ?? { played: 0, duplicate: 0, rejected: 0, summarized: 0 }) },
    state: seen?.state ? { ...seen.state } : null,
  };
}

/** Every device the registry, the tracker or the outbox knows, by id. */
function listDevices(fleet: FleetView, outbox: Outbox): DeviceView[] {
  const summaries = outbox.allDeviceSummaries();
  const ids = new Set<string>([
    ...(fleet.registry?.list('device').map((e) => e.id) ?? []),
    ...fleet.tracker.all().map((r) => r.id),
    ...summaries.keys(),
  ]);
  return [...ids]
    .sort()
    .map((id) => deviceView(fleet, outbox, id, summaries.get(id) ?? { counts: zeroCounts(), lastPaymentAt: null }))
    .filter((d): d is DeviceView => d !== null);
}

/** `backend` (any case) is the backend's identity: provisioning refuses it as a device id. */
export function isReservedId(id: string): boolean {
  return id.toLowerCase() === BACKEND_USERNAME;
}

/** aedes keeps live clients by id; its typings do not declare the map. */
function isConnected(aedes: Aedes, clientId: string): boolean {
  return Boolean((aedes as unknown as { clients: Record<string, unknown> }).clients[clientId]);
}
