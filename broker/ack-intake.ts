/**
 * A device's ack is recorded in the outbox before aedes PUBACKs it, so a broker killed in
 * between cannot lose it (issue 12): the device keeps an un-PUBACKed ack and sends it again.
 *
 * aedes 1.2 handles a PUBLISH in node_modules/aedes/lib/handlers/publish.js as
 * `runSeries([authorizePublish, enqueuePublish])`; for QoS 1, enqueuePublish first writes the
 * PUBACK and only in its callback calls broker.publish, which fans the message out to
 * subscribers (the dispatcher, the tracker) and emits 'publish'. Anything listening there runs
 * after the PUBACK is on the socket. authorizePublish is the one step before it that may wait:
 * the PUBACK goes out only once its callback is called. So this step wraps authorizePublish:
 * the ACL (broker/auth.ts, a pure function of principal and topic) decides first; an allowed
 * publish on a device's ack topic is then handed to the intake (the dispatcher), which
 * resolves once the ack is committed and fsynced (group commit, synchronous = FULL), and only
 * then does aedes PUBACK.
 *
 * An ack the intake does not record (malformed, or naming another device) is PUBACKed at once,
 * as before: the tracker logs it, and the device must not resend it forever. A write that
 * fails closes the connection instead of PUBACKing: the device keeps the ack and resends it
 * after reconnecting.
 */
import type { AedesOptions, Client, PublishPacket } from 'aedes';
import { parseDeviceTopic } from '../src/protocol/index.ts';

/** Takes acks off the wire, durably (the dispatcher, broker/outbox/dispatcher.ts). */
export interface AckIntake {
  /**
   * Resolves once the ack in `packet` is committed, or at once if it is not one to record;
   * rejects if it could not be written (the connection is then closed, no PUBACK).
   */
  takeAck(device: string, packet: PublishPacket): Promise<void>;
}

type AuthorizePublish = NonNullable<AedesOptions['authorizePublish']>;

/** aedes's own default (aedes.js): everything but $SYS/. Used when no security hooks are set. */
const allowAllButSys: AuthorizePublish = (_client, packet, done) =>
  done(packet.topic.startsWith('$SYS/') ? new Error('$SYS/ topic is reserved') : null);

/**
 * Wraps `hooks.authorizePublish` (or aedes's default) with the ack intake. `intake` is asked at
 * each publish: the notification service starts after aedes is created, and until then (or
 * without a service) acks pass as before.
 */
export function withAckIntake(hooks: AedesOptions | undefined, intake: () => AckIntake | null): AedesOptions {
  const authorize = hooks?.authorizePublish ?? allowAllButSys;
  const authorizePublish: AuthorizePublish = (client: Client | null, packet: PublishPacket, done) =>
    authorize(client, packet, (err) => {
      if (err) return done(err);
      // A null client is a will the broker publishes itself: no PUBACK to hold back.
      const taker = client ? intake() : null;
      const where = taker ? parseDeviceTopic(packet.topic) : null;
      if (!taker || where?.leaf !== 'ack') return done(null);
      taker.takeAck(where.deviceId, packet).then(
        () => done(null),
        (e: Error) => done(e),
      );
    });
  return { ...hooks, authorizePublish };
}
