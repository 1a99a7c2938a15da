/**
 * How startBroker applies the resource limits (broker/limits.ts): the aedes options wrapped around
 * the security hooks, and the connection guard the listeners run before aedes sees a byte. Split
 * out of broker.ts, which only wires them; each refusal logs through the shared LogThrottle.
 */
import type { AedesOptions, AuthenticateError } from 'aedes';
import type { ConnectionGuard } from './listeners.ts';
import { ConnectionGate, guardPacketSize, type LogThrottle, type Limits } from './limits.ts';
import { remoteAddress } from './auth.ts';
import type { Logger } from '../src/log.ts';

/**
 * The aedes options for `limits`, around the security hooks (if any). aedes checks client-id
 * length only for MQTT 3.1, so authenticate does it for every version, with CONNACK 2.
 */
export function withLimits(hooks: AedesOptions, limits: Limits, log: Logger, throttle: LogThrottle): AedesOptions {
  const authenticate = hooks.authenticate ?? ((_client, _username, _password, done) => done(null, true));
  return {
    ...hooks,
    maxTopicLevels: limits.maxTopicLevels,
    maxClientsIdLength: limits.maxClientIdLength,
    maxInflightInbound: limits.maxInflightInbound,
    queueLimit: limits.queueLimit,
    connectTimeout: limits.connectTimeoutMs,
    authenticate: (client, username, password, done) => {
      if (client.id.length <= limits.maxClientIdLength) return authenticate(client, username, password, done);
      const address = remoteAddress(client);
      const count = throttle.note(`client-id:${address}`);
      if (count !== null) {
        log.warn(
          { address, length: client.id.length, refused: count },
          `refused ${count} connection(s) from ${address}: client id longer than ${limits.maxClientIdLength} characters`,
        );
      }
      done(Object.assign(new Error('client id too long'), { returnCode: 2 }) as AuthenticateError, false);
    },
  };
}

/** The per-address rate limit and packet-size cap the listeners apply; each logs at most once a second per address. */
export function connectionGuard(
  limits: Limits,
  log: Logger,
  throttle: LogThrottle,
  now: () => number,
): ConnectionGuard {
  const rate = limits.connectRate;
  const gate = rate ? new ConnectionGate(rate, now) : null;
  return {
    maxWsPayload: limits.maxPacketBytes || undefined,
    admit: (address) => {
      if (!gate || gate.admit(address)) return true;
      const count = throttle.note(`rate:${address}`);
      if (count !== null) {
        log.warn(
          { address, refused: count },
          `refused ${count} connection attempt(s) from ${address}: more than ${rate!.perSecond}/s (burst ${rate!.burst})`,
        );
      }
      return false;
    },
    guard: (stream, address) =>
      guardPacketSize(stream, limits.maxPacketBytes, (verdict) => {
        const count = throttle.note(`size:${address}`);
        if (count === null) return;
        const why =
          verdict.reason === 'too-large'
            ? `a ${verdict.declared}-byte packet exceeds the ${limits.maxPacketBytes}-byte limit`
            : 'malformed packet length';
        log.warn({ address, dropped: count }, `dropped ${count} connection(s) from ${address}: ${why}`);
      }),
  };
}
