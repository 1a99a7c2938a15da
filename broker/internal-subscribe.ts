/**
 * The broker's own subscribers (the playback tracker, the outbox's ack reader) inside aedes,
 * without an MQTT connection. Their handlers are synchronous, and that is a trap: aedes's
 * mqemitter runs a queued message from the `done` of the one before it, so a backlog of
 * messages that only synchronous handlers read (100,000 speakers' retained states after a
 * reconnect) recurses once per message until "Maximum call stack size exceeded" kills the
 * broker (seen in a 100,000-speaker fleet; mcollina/mqemitter#204). Calling `done` from a
 * microtask lets the stack unwind between messages at the cost of one microtask each.
 */
import type { Aedes, AedesPublishPacket } from 'aedes';

export function subscribeInternal(
  aedes: Aedes,
  topic: string,
  handle: (packet: AedesPublishPacket) => void,
): Promise<void> {
  return new Promise<void>((resolve) =>
    aedes.subscribe(
      topic,
      (packet, done) => {
        try {
          handle(packet);
        } finally {
          queueMicrotask(done);
        }
      },
      resolve,
    ),
  );
}
