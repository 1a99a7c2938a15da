/**
 * GET /v1/info: the public facts a client needs before it has a credential — the web
 * console's login page asks whether to ask for a token at all, where the broker's MQTT
 * listeners are (a speaker in the tab connects over WebSocket), and which public key verifies
 * the backend's signatures. No authentication: nothing here is secret (the key is the public
 * half that every provisioned device already holds), and the login page cannot have one yet.
 */
import type { KeyObject } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VERSION } from '../../src/version.ts';
import { queryParams } from './payments.ts';

/** The broker's MQTT listener URLs, null for one it does not open. */
export interface MqttEndpoints {
  /** mqtt://host:port */
  tcp: string | null;
  /** ws://host:port/mqtt */
  ws: string | null;
  /** mqtts://host:port */
  tls: string | null;
  /** wss://host:port/mqtt */
  wss: string | null;
}

export interface PublicInfo {
  /** True when anyone may use the API and the broker without a credential (--insecure). */
  insecure: boolean;
  mqtt: MqttEndpoints;
  /** The backend's Ed25519 public key (SPKI PEM) that speakers verify notifications with. */
  backendPublicKeyPem: string | null;
  version: string;
}

export interface InfoSources {
  insecure: boolean;
  /** Absent when the API runs without a broker's listeners to show (every URL is then null). */
  mqtt?: MqttEndpoints;
  backendPublicKey?: KeyObject;
}

const NO_LISTENERS: MqttEndpoints = { tcp: null, ws: null, tls: null, wss: null };

export function infoRoutes(app: FastifyInstance, sources: InfoSources): void {
  // Exported once: the key does not change while the broker runs.
  const backendPublicKeyPem = sources.backendPublicKey?.export({ type: 'spki', format: 'pem' }).toString() ?? null;
  app.get<{ Querystring: Record<string, unknown> }>('/v1/info', async (req, reply): Promise<PublicInfo> => {
    queryParams(req.query, [], 'GET /v1/info');
    reply.header('cache-control', 'no-store');
    const mqtt = sources.mqtt ?? NO_LISTENERS;
    return {
      insecure: sources.insecure,
      mqtt: {
        tcp: reachable(mqtt.tcp, req),
        ws: reachable(mqtt.ws, req),
        tls: reachable(mqtt.tls, req),
        wss: reachable(mqtt.wss, req),
      },
      backendPublicKeyPem,
      version: VERSION,
    };
  });
}

/**
 * A broker listening on every interface (0.0.0.0 or ::) has URLs no client can dial: put in
 * the host name the client reached the API by, which reaches the same machine.
 */
function reachable(url: string | null, req: FastifyRequest): string | null {
  if (url === null) return null;
  const u = new URL(url);
  if (u.hostname !== '0.0.0.0' && u.hostname !== '[::]') return url;
  const host = req.headers.host;
  if (!host) return url;
  try {
    u.hostname = new URL(`http://${host}`).hostname;
  } catch {
    return url;
  }
  return u.toString().replace(/\/$/, '');
}
