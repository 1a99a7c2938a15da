/**
 * Publishes payment notifications to devices and waits for their acks: what a payment
 * backend does, and what `payspeaker pay` and the demo use. Works against any MQTT 3.1.1 broker.
 */
import type { MqttClient } from 'mqtt';
import { parseAck, parseDeviceTopic, topics, type Ack, type Notification } from '../../src/protocol/index.ts';

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

interface Waiter {
  resolve(ack: Ack): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class PaymentPublisher {
  private readonly waiters = new Map<string, Waiter>();
  private readonly subscribed = new Set<string>();

  constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /** Publishes with QoS 1 and resolves with the device's ack (played, rejected, duplicate …). */
  async send(notification: Notification, timeoutMs = 10_000): Promise<Ack> {
    await this.subscribeAcks(notification.device);
    const key = waiterKey(notification.device, notification.id);
    const acked = new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new AckTimeoutError(notification, timeoutMs));
      }, timeoutMs);
      this.waiters.set(key, { resolve, reject, timer });
    });
    try {
      await this.client.publishAsync(topics.notify(notification.device), JSON.stringify(notification), { qos: 1 });
    } catch (err) {
      this.settle(key)?.reject(err as Error);
    }
    return acked;
  }

  private async subscribeAcks(deviceId: string): Promise<void> {
    if (this.subscribed.has(deviceId)) return;
    await this.client.subscribeAsync(topics.ack(deviceId), { qos: 1 });
    this.subscribed.add(deviceId);
  }

  private onMessage(topic: string, payload: Buffer): void {
    const where = parseDeviceTopic(topic);
    if (!where || where.leaf !== 'ack') return;
    let ack: Ack;
    try {
      ack = parseAck(payload);
    } catch {
      return; // Not ours to judge: the tracker logs malformed acks.
    }
    if (ack.id !== null) this.settle(waiterKey(where.deviceId, ack.id))?.resolve(ack);
  }

  private settle(key: string): Waiter | undefined {
    const waiter = this.waiters.get(key);
    if (waiter) {
      clearTimeout(waiter.timer);
      this.waiters.delete(key);
    }
    return waiter;
  }
}

function waiterKey(deviceId: string, paymentId: string): string {
  return `${deviceId}\u0000${paymentId}`;
}
