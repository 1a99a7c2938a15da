/**
 * Authentication and authorization as aedes hooks. `checkConnect` decides who a CONNECT is
 * (a pure function of the registry and the packet); the hooks apply it and the ACL, and log
 * each refusal once: which id, why, from where — never the secret.
 *
 * CONNACK codes (MQTT 3.1.1): 4 "bad user name or password" for an unknown id or a wrong
 * secret (the two look the same to the caller), 5 "not authorized" for a revoked device or a
 * will on someone else's topic, 2 "identifier rejected" for a client id that is not the
 * device's own (it would take over another session).
 */
import crypto from 'node:crypto';
import type net from 'node:net';
import type { Aedes, AedesOptions, AuthenticateError, Client, Subscription } from 'aedes';
import {
  canPublish,
  canReceive,
  canSetWill,
  canSubscribe,
  describePrincipal,
  type Decision,
  type Principal,
} from './acl.ts';
import { verifySecret } from './credentials.ts';
import { clip, ThrottledLog } from './log-throttle.ts';
import type { Registry } from './registry.ts';
import { parseDeviceTopic } from '../src/protocol/index.ts';
import type { Logger } from '../src/log.ts';

/** The device firmware connects as `payspeaker-<id>` (docs/PROTOCOL.md). */
export const deviceClientId = (id: string): string => `payspeaker-${id}`;
/** The device id a client id names (`payspeaker-SPK-0001` → SPK-0001), or null. */
export const deviceOfClientId = (clientId: string): string | null =>
  clientId.startsWith('payspeaker-') ? clientId.slice('payspeaker-'.length) : null;

export interface ConnectAttempt {
  username: string | undefined;
  password: Buffer | undefined;
  clientId: string;
  willTopic: string | undefined;
}

export type Verdict =
  { ok: true; principal: Principal; secretHash: Buffer } | { ok: false; code: 2 | 3 | 4 | 5; reason: string };

/** Verified against when the id is unknown, so "no such id" takes as long as "wrong secret". */
const DUMMY = { salt: crypto.randomBytes(16), secretHash: crypto.randomBytes(32) };

export function checkConnect(registry: Registry, a: ConnectAttempt): Verdict {
  if (!a.username)
    return {
      ok: false,
      code: 4,
      reason: 'anonymous clients are refused (provision the device, or run the broker with --insecure)',
    };
  const identity = registry.find(a.username);
  const secret = a.password?.toString('utf8') ?? '';
  const secretOk = verifySecret(secret, identity ?? DUMMY);
  if (!identity)
    return { ok: false, code: 4, reason: 'unknown id: not in the registry (run "npx payspeaker provision ID")' };
  if (!secretOk) return { ok: false, code: 4, reason: 'wrong secret' };
  // Only a holder of the secret learns that the id was revoked.
  if (identity.status === 'revoked')
    return { ok: false, code: 5, reason: `revoked at ${new Date(identity.revokedAt ?? 0).toISOString()}` };
  const principal: Principal = identity.role === 'backend' ? { role: 'backend' } : { role: 'device', id: identity.id };
  const idProblem = clientIdProblem(registry, principal, a.clientId);
  if (idProblem) return { ok: false, code: 2, reason: idProblem };
  if (a.willTopic !== undefined) {
    const will = canSetWill(principal, a.willTopic);
    if (!will.allowed) return { ok: false, code: 5, reason: will.reason };
  }
  return { ok: true, principal, secretHash: identity.secretHash };
}

/** A device's persistent session is keyed by its client id: nobody else may use that id. */
function clientIdProblem(registry: Registry, p: Principal, clientId: string): string | null {
  if (p.role === 'device') {
    const own = deviceClientId(p.id);
    return clientId === own ? null : `client id must be ${own}, got ${JSON.stringify(clientId)}`;
  }
  const prefix = deviceClientId('');
  const taken = clientId.startsWith(prefix) && registry.find(clientId.slice(prefix.length))?.role === 'device';
  return taken ? `the backend may not use device ${clientId.slice(prefix.length)}'s client id ${clientId}` : null;
}

export interface Session {
  principal: Principal;
  /** The hash the secret was checked against: a re-provisioned device (new secret) is dropped. */
  secretHash: Buffer;
}

export function remoteAddress(client: Client): string {
  const socket = client.req?.socket ?? (client.conn as Partial<net.Socket>);
  return socket.remoteAddress ?? 'unknown address';
}

type Hooks = Required<
  Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'>
>;

/** The aedes hooks for secure mode, and the session each authenticated client got. */
export class Authenticator {
  private readonly sessions = new WeakMap<Client, Session>();
  /** Refusals are logged per client (or address and username) and rule, at most once a second each. */
  private readonly refusals: ThrottledLog;
  // aedes hands authenticate() no packet: preConnect keeps the will topic for it.
  private readonly willTopics = new WeakMap<Client, string>();
  /** Clients already logged for a withheld delivery: a leaked subscription must not flood the log. */
  private readonly withheld = new WeakSet<Client>();

  constructor(
    private readonly registry: Registry,
    private readonly log: Logger,
  ) {
    this.refusals = new ThrottledLog(log);
  }

  session(client: Client): Session | undefined {
    return this.sessions.get(client);
  }

  hooks(): Hooks {
    return {
      preConnect: (client, packet, done) => {
        if (packet.will) this.willTopics.set(client, packet.will.topic);
        done(null, true);
      },
      authenticate: (client, username, password, done) => {
        const attempt = { username, password, clientId: client.id, willTopic: this.willTopics.get(client) };
        const verdict = this.check(attempt);
        if (verdict.ok) {
          this.sessions.set(client, { principal: verdict.principal, secretHash: verdict.secretHash });
          return done(null, true);
        }
        const who = username ? JSON.stringify(username.slice(0, 80)) : '(no username)';
        const address = remoteAddress(client);
        const reason = clip(verdict.reason)!;
        // One line per address, username and reason per second: a credential-stuffing flood must not flood the log.
        this.refusals.warn(
          `connect|${address}|${who}|${verdict.code}|${reason}`,
          `refused connections as ${who} from ${address} (${reason})`,
          { username: username?.slice(0, 80), clientId: clip(client.id, 80), address, connack: verdict.code },
          `refused ${who} from ${address}: ${reason}`,
        );
        done(Object.assign(new Error(verdict.reason), { returnCode: verdict.code }) as AuthenticateError, false);
      },
      authorizePublish: (client, packet, done) => {
        // client is null only for a will left by a vanished broker: it was checked at connect.
        if (!client) return done(parseDeviceTopic(packet.topic)?.leaf === 'state' ? null : new Error('not authorized'));
        const decision = this.decide(client, (p) => canPublish(p, packet.topic, { retain: packet.retain }));
        if (decision.allowed) return done(null);
        this.refused(client, 'publish', packet.topic, decision);
        done(new Error(`not authorized to publish to ${clip(packet.topic)}: ${clip(decision.reason)}`));
      },
      authorizeSubscribe: (client, sub, done) => {
        const decision = this.decide(client, (p) => canSubscribe(p, sub.topic));
        if (decision.allowed) return done(null, sub);
        this.refused(client, 'subscribe', sub.topic, decision);
        done(null, null); // SUBACK 128 for this filter; the connection stays up
      },
      authorizeForward: (client, packet) => {
        const decision = this.decide(client, (p) => canReceive(p, packet.topic));
        if (decision.allowed) return packet;
        if (!this.withheld.has(client)) {
          this.withheld.add(client);
          this.refused(client, 'delivery', packet.topic, {
            ...decision,
            reason: `not a topic it may receive: ${decision.reason} (further ones are withheld without a log line)`,
          });
        }
        return null;
      },
    };
  }

  /** A registry that cannot be read refuses everyone (CONNACK 3, server unavailable) rather than crash. */
  private check(attempt: ConnectAttempt): Verdict {
    try {
      return checkConnect(this.registry, attempt);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'cannot read the device registry');
      return { ok: false, code: 3, reason: `the registry cannot be read (${(err as Error).message})` };
    }
  }

  private decide(client: Client, rule: (p: Principal) => Decision): Decision {
    const session = this.sessions.get(client);
    return session
      ? rule(session.principal)
      : { allowed: false, rule: 'not-authenticated', reason: 'not authenticated' };
  }

  /**
   * One line per client, kind and rule per second, with the topic and reason clipped: a
   * SUBSCRIBE with a thousand refused filters, or a device reconnecting to publish where it may
   * not, gives a line and then a count.
   */
  private refused(
    client: Client,
    what: 'publish' | 'subscribe' | 'delivery',
    topic: string,
    decision: Extract<Decision, { allowed: false }>,
  ): void {
    const session = this.sessions.get(client);
    const who = session ? describePrincipal(session.principal) : `client ${clip(client.id, 80)}`;
    const shown = clip(topic)!;
    const msg =
      what === 'delivery' ? `withheld a message on ${shown} from ${who}` : `refused ${what} by ${who} to ${shown}`;
    const label =
      what === 'delivery' ? `withheld messages from ${who}` : `refused ${what}s by ${who} (${decision.rule})`;
    this.refusals.warn(
      `${what}|${client.id}|${decision.rule}`,
      label,
      { clientId: clip(client.id, 80), topic: shown, address: remoteAddress(client), rule: decision.rule },
      `${msg}: ${clip(decision.reason)}`,
    );
  }
}

/**
 * aedes 1.2 persists every filter of a SUBSCRIBE packet in a persistent session, refused ones
 * included, and queues matching messages for the client while it is offline (authorizeForward
 * then withholds them). Forgetting refused filters once the SUBACK is out keeps those queues
 * from filling with other devices' traffic.
 */
export function forgetRefusedSubscriptions(aedes: Aedes): void {
  const persistence = (
    aedes as unknown as { persistence: { removeSubscriptions(c: Client, topics: string[]): Promise<unknown> } }
  ).persistence;
  aedes.on('subscribe', (subs: Subscription[], client: Client) => {
    const refused = subs.filter((s) => (s.qos as number) === 128).map((s) => s.topic);
    if (refused.length > 0 && !client.clean) persistence.removeSubscriptions(client, refused).catch(() => {});
  });
}
