/**
 * Publishes payment notifications to devices and waits for their acks: what a payment
 * backend does, and what `payspeaker pay --direct` and the benchmarks use. Works against any
 * MQTT 3.1.1 broker. The asking itself (subscribe, publish, pair the answer, deadline) is
 * src/mqtt/ask.ts, shared with `command` and `ota`.
 */
import type { MqttClient } from 'mqtt';
import { parseAck, topics, type Ack, type Notification } from '../../src/protocol/index.ts';
import { Asker, type Answer } from '../../src/mqtt/ask.ts';

export class AckTimeoutError extends Error {
  constructor(
    readonly notification: Notification,
    timeoutMs: number,
  ) {
    super(
      `no ack from device ${notification.device} for payment ${notification.id} within ${timeoutMs / 1000} s: ` +
        `is "npx payspeaker device --id ${notification.device}" running against this broker? ` +
        `(the broker keeps the notification for the device's persistent session)`,
    );
    this.name = 'AckTimeoutError';
  }
}

export class PaymentPublisher {
  private readonly asker: Asker;

  constructor(client: MqttClient) {
    this.asker = new Asker(client);
  }

  /** Publishes with QoS 1 and resolves with the device's ack (played, rejected, duplicate …). */
  send(notification: Notification, timeoutMs = 10_000): Promise<Ack> {
    return this.asker.ask<Ack>({
      topic: topics.notify(notification.device),
      payload: JSON.stringify(notification),
      answerTopic: topics.ack(notification.device),
      id: notification.id,
      read: readAck,
      timeoutMs,
      timeoutError: () => new AckTimeoutError(notification, timeoutMs),
    });
  }
}

function readAck(payload: Buffer): Answer<Ack> | null {
  let ack: Ack;
  try {
    ack = parseAck(payload);
  } catch {
    return null; // Not ours to judge: the tracker logs malformed acks.
  }
  return ack.id === null ? null : { id: ack.id, value: ack };
}
