/**
 * Asking a device over MQTT: publish a request, take its answer on another topic, give up at a
 * deadline. `payspeaker command`, `payspeaker ota` and the payment publisher (payments and
 * their acks) all do this; it lives here once. One subscription per answer topic for the
 * client's life, so many questions can be outstanding at once (the benchmarks send thousands),
 * and answers are paired with their question by id, never by arrival order.
 *
 * Only the MQTT side: what a request or an answer means is the caller's (the protocol module's).
 */
import type { MqttClient } from 'mqtt';

/** One answer read off the answer topic: the id of the question it answers, and its value. */
export interface Answer<A> {
  id: string;
  value: A;
}

export interface Question<A> {
  /** The request, published with QoS 1 once the answer topic is subscribed. */
  topic: string;
  payload: string;
  /** Where the answers come back (subscribed with QoS 1). */
  answerTopic: string;
  /** The id an answer to this question carries. */
  id: string;
  /**
   * Reads one message on `answerTopic`; null for one that is no answer (malformed, or not for
   * this protocol). Every question on one topic reads it the same way: the first one's is used.
   */
  read(payload: Buffer): Answer<A> | null;
  /** True for an answer that is not the last one (ota's "installing"): reported, and waited past. */
  isProgress?(answer: A): boolean;
  onProgress?(answer: A): void;
  timeoutMs: number;
  /** The error when no final answer came in time; `progressed`: whether a progress answer did. */
  timeoutError(progressed: boolean): Error;
}

/** The broker refused to subscribe us to the answer topic (SUBACK 0x80), so no answer could ever arrive. */
export class SubscriptionRefusedError extends Error {
  constructor(readonly topic: string) {
    // MQTT 3.1.1 §3.9.3: 0x80 is the SUBACK return code for a refused subscription.
    super(`the broker refused the subscription to ${topic} (SUBACK 0x80)`);
    this.name = 'SubscriptionRefusedError';
  }
}

interface Waiter {
  resolve(value: unknown): void;
  reject(err: Error): void;
  progress(value: unknown): boolean;
  timer: ReturnType<typeof setTimeout>;
}

export class Asker {
  private readonly waiting = new Map<string, Waiter>();
  /** Per answer topic: the subscription (made once) and how its messages are read. */
  private readonly topics = new Map<
    string,
    { subscribed: Promise<void>; read: (p: Buffer) => Answer<unknown> | null }
  >();

  constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /** Resolves with the final answer; rejects with `timeoutError` at the deadline, or if the publish fails. */
  async ask<A>(q: Question<A>): Promise<A> {
    await this.subscribe(q.answerTopic, q.read);
    const key = waiterKey(q.answerTopic, q.id);
    const answered = new Promise<A>((resolve, reject) => {
      let progressed = false;
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(q.timeoutError(progressed));
      }, q.timeoutMs);
      this.waiting.set(key, {
        resolve: resolve as (value: unknown) => void,
        reject,
        timer,
        progress: (value) => {
          if (!q.isProgress?.(value as A)) return false;
          progressed = true;
          q.onProgress?.(value as A);
          return true;
        },
      });
    });
    try {
      await this.client.publishAsync(q.topic, q.payload, { qos: 1 });
    } catch (err) {
      this.settle(key)?.reject(err as Error);
    }
    return answered;
  }

  private subscribe(topic: string, read: (p: Buffer) => Answer<unknown> | null): Promise<void> {
    const known = this.topics.get(topic);
    if (known) return known.subscribed;
    const subscribed = this.client.subscribeAsync(topic, { qos: 1 }).then(
      () => undefined,
      (err: Error & { code?: number }) => {
        this.topics.delete(topic); // the next question may try again
        throw err.code === 128 ? new SubscriptionRefusedError(topic) : err;
      },
    );
    this.topics.set(topic, { subscribed, read });
    return subscribed;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const answer = this.topics.get(topic)?.read(payload);
    if (!answer) return;
    const key = waiterKey(topic, answer.id);
    if (this.waiting.get(key)?.progress(answer.value)) return;
    this.settle(key)?.resolve(answer.value);
  }

  private settle(key: string): Waiter | undefined {
    const waiter = this.waiting.get(key);
    if (waiter) {
      clearTimeout(waiter.timer);
      this.waiting.delete(key);
    }
    return waiter;
  }
}

function waiterKey(topic: string, id: string): string {
  return `${topic}\u0000${id}`;
}
