/**
 * The device's MQTT session: persistent (clean: false), QoS 1, a last will that marks it
 * offline, and reconnects with exponential backoff and full jitter (1 s to 60 s) instead of
 * MQTT.js's fixed interval. Incoming QoS 1 messages pass through `intake` before their PUBACK
 * goes back, so the firmware can store a payment durably first (MQTT.js would otherwise ack
 * before an async handler has finished).
 */
// eventemitter3, not node:events: the firmware also runs in a browser tab, where node:events does not exist.
import { EventEmitter } from 'eventemitter3';
import mqtt, { type IClientOptions, type IClientPublishOptions } from 'mqtt';
import { disableNagle } from '../src/mqtt/no-delay.ts';
import { describeTlsError } from '../src/mqtt/tls-errors.ts';
import { describeWrongPort } from '../src/mqtt/wrong-port.ts';
import type { Logger } from '../src/logger.ts';
import { Backoff } from './backoff.ts';
import type { DeviceStateMachine } from './state-machine.ts';
import type { Clock, Timer } from './board.ts';

export interface ConnectionOptions {
  clientId: string;
  brokerUrl: string;
  machine: DeviceStateMachine;
  /** The board's clock: reconnect and goodbye timers. */
  clock: Clock;
  log: Logger;
  /** The last will: published by the broker if the device vanishes. */
  will: { topic: string; payload: string };
  /** Topics to (re)subscribe with QoS 1 after every connect (asked each time). */
  subscriptions: () => string[];
  /** The MQTT keep-alive (FirmwareSettings.keepaliveMs); default DEFAULT_KEEPALIVE_MS. */
  keepaliveMs?: number;
  mqtt?: IClientOptions;
  backoff?: Backoff;
  /** Takes every incoming message; its PUBACK goes back only once this resolves. */
  intake: (topic: string, payload: Uint8Array) => Promise<void>;
  /** How the MQTT client and its socket are made; default MQTT.js's own `mqtt.connect`. */
  transport?: MqttTransport;
}

/**
 * Makes the MQTT client for `brokerUrl` with these options, as `mqtt.connect` does. The board
 * or tool that boots the speaker may open the socket its own way (a fleet binds each one to a
 * source address of its choosing); every check above the socket stays the firmware's.
 */
export type MqttTransport = (brokerUrl: string, options: IClientOptions) => MqttLink;

/**
 * What this connection uses of an MQTT client. MQTT.js's MqttClient is one; a fleet may bring a
 * lighter one (tools/fleet/light-mqtt) that keeps the same rules: messages handed over one at a
 * time with the PUBACK after `done`, QoS 1 publishes resolved on their PUBACK.
 */
export interface MqttLink {
  readonly connected: boolean;
  readonly stream: { destroy(): void };
  /** Assigned by the connection: every incoming PUBLISH, and `done` when it may be PUBACKed (method syntax: MQTT.js's packet type is wider). */
  handleMessage(packet: { topic: string; payload: Uint8Array | string }, done: (err?: Error) => void): void;
  on(event: 'connect' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error & { code?: string | number }) => void): unknown;
  publishAsync(topic: string, payload: string, options: IClientPublishOptions): Promise<unknown>;
  subscribeAsync(topics: string[], options: { qos: 1 }): Promise<unknown>;
  endAsync(force?: boolean): Promise<unknown>;
  readonly incomingStore?: IClientOptions['incomingStore'];
  readonly outgoingStore?: IClientOptions['outgoingStore'];
  reconnect(stores: Pick<IClientOptions, 'incomingStore' | 'outgoingStore'>): unknown;
}

/** 20 s: a black-holed link is noticed, by the broker and by us, within 30 s (why: FirmwareSettings.keepaliveMs). */
export const DEFAULT_KEEPALIVE_MS = 20_000;

/** How long a clean stop waits for the broker to ack what we sent before closing anyway. */
const GOODBYE_MS = 2000;

export class Connection extends EventEmitter<{ online: []; offline: [] }> {
  private client: MqttLink | null = null;
  private retryTimer: Timer | null = null;
  private stopping = false;
  private readonly backoff: Backoff;
  /** Publishes made before start() wait here instead of being lost. */
  private readonly started: Promise<MqttLink>;
  private markStarted!: (client: MqttLink) => void;
  /** Set while stopping: messages are no longer taken (nor PUBACKed), so the broker keeps them. */
  private closedForIntake = false;
  /** Publishes waiting to be made again after the next connect (or to give up on stop). */
  private onlineWaiters: (() => void)[] = [];

  constructor(private readonly opts: ConnectionOptions) {
    super();
    this.backoff = opts.backoff ?? new Backoff();
    this.started = new Promise((resolve) => (this.markStarted = resolve));
  }

  /** The keep-alive in whole seconds, as CONNECT carries it. */
  get keepaliveS(): number {
    return Math.max(1, Math.round((this.opts.keepaliveMs ?? DEFAULT_KEEPALIVE_MS) / 1000));
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  start(): void {
    const { opts } = this;
    const connect: MqttTransport = opts.transport ?? mqtt.connect;
    const client = connect(opts.brokerUrl, {
      clientId: opts.clientId,
      clean: false, // the broker keeps QoS 1 notifications for us while we are away
      // Whole seconds on the wire (MQTT 3.1.1 §3.1.2.10); 0 would turn keep-alive off, so at least 1.
      keepalive: this.keepaliveS,
      reconnectPeriod: 0, // we schedule reconnects ourselves, with backoff
      connectTimeout: 10_000,
      will: { topic: opts.will.topic, payload: opts.will.payload, qos: 1, retain: true },
      ...opts.mqtt,
    });
    this.client = disableNagle(client);
    client.handleMessage = (packet, done) => {
      // An error skips the PUBACK (the broker redelivers it next session) but lets MQTT.js go
      // on to the packets behind it, such as the PUBACK of our own goodbye.
      if (this.closedForIntake) return done(new Error('stopping: left with the broker for the next session'));
      this.opts.intake(packet.topic, packet.payload as Uint8Array).then(
        () => done(),
        (err: Error) => {
          // Not acked; aedes resends unacked QoS 1 only on reconnect, so drop the link (not the
          // client: end() would close the stores the reconnect keeps).
          opts.log.error(
            { err: err.message, topic: packet.topic },
            'could not take a message; reconnecting so it is redelivered',
          );
          done(err);
          client.stream.destroy();
        },
      );
    };
    client.on('connect', () => void this.onConnect());
    client.on('close', () => this.onClose());
    let lastError: Error | null = null;
    client.on('error', (err) => {
      // MQTT.js emits a TLS error twice, the same object (connect/tls.js and the stream's own
      // error handler): log it once.
      if (err === lastError) return;
      lastError = err;
      if (err.message === 'Keepalive timeout') {
        // MQTT.js sent a PINGREQ and no PINGRESP came: a black-holed link (no RST, no FIN), which
        // TCP alone would take many minutes to give up on.
        const silentS = this.keepaliveS * 1.5;
        opts.log.warn(
          { broker: opts.brokerUrl, keepaliveS: this.keepaliveS },
          `no answer from the broker for ${silentS} s (keep-alive ${this.keepaliveS} s): the link is dead, reconnecting`,
        );
        return;
      }
      // A TLS failure says which CA to use instead of OpenSSL's terse code; an HTTP answer, which port is MQTT's.
      const why =
        describeTlsError(opts.brokerUrl, err, opts.mqtt?.ca ? "the device's CA (its config, or --ca)" : undefined) ??
        describeWrongPort(err) ??
        err.message;
      opts.log.warn({ broker: opts.brokerUrl, err: why }, 'broker connection problem');
    });
    this.markStarted(client);
  }

  /**
   * While offline MQTT.js keeps QoS 1 publishes in memory and sends them after reconnecting.
   * But a publish made while it is resending that store after a reconnect is failed, not kept,
   * if the link drops again before the resend ends (MQTT.js issue #2015): under a flapping
   * link that lost acks. So a failed QoS 1 publish is made again once we are back online —
   * unless we are shutting down: then a goodbye gets GOODBYE_MS to be acked, and no retry.
   * Resolves true once the broker has it (QoS 1: PUBACKed), false if it was never sent because
   * the device is stopping.
   */
  async publish(topic: string, payload: string, options: IClientPublishOptions): Promise<boolean> {
    const client = await this.started;
    for (;;) {
      if (this.stopping) return false;
      try {
        const sent = client.publishAsync(topic, payload, options);
        await (this.closedForIntake ? withDeadline(sent, GOODBYE_MS, this.opts.clock) : sent);
        return true;
      } catch (err) {
        if (!options.qos || this.stopping || this.closedForIntake) throw err;
        this.opts.log.debug(
          { topic, err: (err as Error).message },
          'publish failed with the link; sending it again once back online',
        );
        await new Promise<void>((resolve) => this.onlineWaiters.push(resolve));
      }
    }
  }

  /** Stops taking messages (first step of a clean shutdown): what arrives now stays with the broker. */
  closeIntake(): void {
    this.closedForIntake = true;
    this.wakePublishers();
  }

  async stop(): Promise<void> {
    this.closeIntake();
    this.stopping = true;
    this.wakePublishers();
    this.retryTimer?.cancel();
    const client = this.client;
    this.client = null;
    if (!client) return;
    // Mid-reconnect there is nobody to say goodbye to: force, or end() waits for a connection.
    if (!client.connected) return void (await client.endAsync(true));
    // A polite end waits for our in-flight publishes to be acked; if the link dies meanwhile
    // (the broker stopping as we do) nothing ever acks them, so give it a moment, then force.
    let timer: Timer | undefined;
    const gaveUp = new Promise<'timeout'>(
      (resolve) => (timer = this.opts.clock.after(GOODBYE_MS, () => resolve('timeout'))),
    );
    const ended = await Promise.race([client.endAsync(false).then(() => 'ended' as const), gaveUp]);
    timer?.cancel();
    if (ended === 'timeout') await client.endAsync(true);
  }

  private async onConnect(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      await client.subscribeAsync(this.opts.subscriptions(), { qos: 1 });
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'could not subscribe; reconnecting');
      client.stream.destroy();
      return;
    }
    // Only a session that works resets the backoff: a broker that accepts the connection but
    // refuses the subscription must not be retried every second.
    this.backoff.reset();
    this.opts.machine.send('connected');
    this.emit('online');
    this.wakePublishers();
  }

  private wakePublishers(): void {
    const waiters = this.onlineWaiters;
    this.onlineWaiters = [];
    for (const wake of waiters) wake();
  }

  private onClose(): void {
    if (this.stopping || !this.client) return;
    const wasOnline = this.opts.machine.state === 'online';
    this.opts.machine.send('connection-lost');
    if (wasOnline) this.emit('offline');
    const delay = this.backoff.next();
    this.opts.log.info({ retryInMs: delay, attempt: this.backoff.attempt }, 'disconnected from the broker; retrying');
    this.retryTimer = this.opts.clock.after(delay, () => {
      this.retryTimer = null;
      if (this.stopping || !this.client) return;
      this.opts.machine.send('retry');
      // Keep the stores: without them MQTT.js starts empty and drops the acks queued while offline.
      const { incomingStore, outgoingStore } = this.client;
      this.client.reconnect({ incomingStore, outgoingStore });
    });
  }
}

function withDeadline<T>(work: Promise<T>, ms: number, clock: Clock): Promise<T> {
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = clock.after(ms, () => reject(new Error(`no PUBACK within ${ms} ms while stopping`)));
  });
  return Promise.race([work, late]).finally(() => timer?.cancel());
}
