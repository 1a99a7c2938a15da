/**
 * Who may call the notification API. On a secure broker that is the payment backend: it sends
 * the backend's MQTT password (DIR/broker/backend.json) as a bearer token, checked against the
 * registry's salted hash, exactly as an MQTT CONNECT would be. An --insecure broker lets
 * anyone in, as it does on MQTT.
 */
import type { FastifyRequest } from 'fastify';
import { BACKEND_USERNAME, verifySecret } from '../credentials.ts';
import type { Registry } from '../registry.ts';
import { ApiError } from './errors.ts';

export type ApiAuth = (req: FastifyRequest) => void;

export const openAccess: ApiAuth = () => {};

export function backendTokenAuth(registry: Registry): ApiAuth {
  return (req) => {
    const token = bearerToken(req.headers.authorization);
    const backend = registry.find(BACKEND_USERNAME);
    const ok =
      token !== null && backend?.role === 'backend' && backend.status === 'active' && verifySecret(token, backend);
    if (!ok) {
      const why = token === null ? 'no API token' : 'wrong API token';
      throw new ApiError(
        401,
        'unauthorized',
        `${why}: send "Authorization: Bearer <password>" with the password from the broker's DIR/broker/backend.json (npx payspeaker pay reads it for you with --data DIR)`,
        undefined,
        { 'www-authenticate': 'Bearer realm="payspeaker"' },
      );
    }
  };
}

/**
 * For what a speaker fetches over HTTP (voice packs): the backend token, or a provisioned,
 * active device's own MQTT credentials as HTTP Basic (`id:password`), as a box downloads from its
 * vendor with its own identity. A speaker in a browser tab so never needs the backend's token.
 */
export function backendOrDeviceAuth(registry: Registry): ApiAuth {
  const backend = backendTokenAuth(registry);
  return (req) => {
    const device = basicCredentials(req.headers.authorization);
    if (device && device.username !== BACKEND_USERNAME) {
      const found = registry.find(device.username);
      if (found?.role === 'device' && found.status === 'active' && verifySecret(device.password, found)) return;
      throw new ApiError(
        401,
        'unauthorized',
        `wrong device credentials for ${JSON.stringify(device.username.slice(0, 64))}: send the device's MQTT username and password (its config, or POST /v1/devices/:id/provision), or the backend token`,
        undefined,
        { 'www-authenticate': 'Basic realm="payspeaker"' },
      );
    }
    backend(req);
  };
}

function basicCredentials(header: string | undefined): { username: string; password: string } | null {
  const [scheme, value] = (header ?? '').split(' ', 2);
  if (scheme?.toLowerCase() !== 'basic' || !value) return null;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : null;
}

/** "Bearer X" → X; also "Basic base64(backend:X)", which curl -u sends. */
function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const [scheme, value] = header.split(' ', 2);
  if (!value) return null;
  if (scheme?.toLowerCase() === 'bearer') return value.trim();
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon > 0 && decoded.slice(0, colon) === BACKEND_USERNAME ? decoded.slice(colon + 1) : null;
  }
  return null;
}
