/**
 * The virtual speaker's firmware: a thin controller in the zigbee2mqtt style. It builds the
 * shared services (state machine, MQTT connection, announcer, stores) from the board it is
 * given, wires them to the feature extensions (presence, time, payments, controls, OTA,
 * telemetry, and the commands router), subscribes to the topics they declare and routes each incoming
 * message to the one that declared its topic. The constructor only stores its collaborators.
 * Speakers are put together in one place, device/boot/compose.ts.
 */
// eventemitter3, not node:events: the firmware also runs in a browser tab, where node:events does not exist.
import { EventEmitter } from 'eventemitter3';
import type { IClientOptions } from 'mqtt';
import { topics, type CommandName } from '../src/protocol/index.ts';
import type { Language } from '../src/speech/index.ts';
import type { Voice } from '../src/voice/voice.ts';
import { silentLogger, type Logger } from '../src/logger.ts';
import { VERSION } from '../src/version.ts';
import { Announcer } from './announcer.ts';
import { Connection, type MqttTransport } from './connection.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { Trust } from './trust.ts';
import {
  DEFAULT_SETTINGS,
  type CommandHandler,
  type Extension,
  type FirmwareContext,
  type FirmwareSettings,
  type TopicHandler,
} from './context.ts';
import { DeviceStateMachine, type DeviceState } from './state-machine.ts';
import { PaymentStore } from './stores/payments.ts';
import { VolumeSetting } from './stores/volume.ts';
import { PaymentsExtension } from './extensions/payments.ts';
import { ControlsExtension } from './extensions/controls.ts';
import { CommandsExtension } from './extensions/commands.ts';
import { PresenceExtension, stateJson } from './extensions/presence.ts';
import { TelemetryExtension } from './extensions/telemetry.ts';
import { TimeExtension } from './extensions/time.ts';
import type { Board } from './board.ts';
import type { SpeakerEvent } from './events.ts';
import { prompt } from './speak.ts';

export interface SpeakerOptions {
  id: string;
  brokerUrl: string;
  lang: Language;
  board: Board;
  voice: Voice;
  log?: Logger;
  settings?: Partial<FirmwareSettings>;
  /** Extra MQTT.js options (credentials, timings in tests). */
  mqtt?: IClientOptions;
  /** How the MQTT socket is opened (connection.ts); default MQTT.js's own. */
  transport?: MqttTransport;
  /** Reconnect timing (defaults: 1 s to 60 s, full jitter); tests inject their randomness. */
  backoff?: BackoffOptions;
  /** Which notifications may be spoken. Without it signatures are not checked (a warning says so). */
  trust?: Trust;
  /** Reported in the retained state message; default VERSION. An installed image passes its manifest's version. */
  firmwareVersion?: string;
  /**
   * Extensions only some platforms can run, made by the composition root for this speaker's
   * context: OTA (extensions/ota.ts) needs firmware slots and node:crypto, so the Node boards'
   * root (boot/compose.ts) adds it and a browser tab's does not. A command no extension declares
   * is answered as not supported.
   */
  platformExtensions?: (ctx: FirmwareContext) => Extension[];
}

interface Running {
  ctx: FirmwareContext;
  extensions: Extension[];
}

export class Speaker extends EventEmitter<{ event: [SpeakerEvent] }> {
  private running: Running | null = null;

  constructor(private readonly opts: SpeakerOptions) {
    super();
  }

  get id(): string {
    return this.opts.id;
  }

  get state(): DeviceState {
    return this.running?.ctx.machine.state ?? 'booting';
  }

  /** Boots and starts connecting; resolves at once (the box keeps trying if the broker is away). */
  async boot(): Promise<void> {
    if (this.running) return;
    const { opts } = this;
    const log = (opts.log ?? silentLogger).child({ device: opts.id });
    const machine = new DeviceStateMachine({ now: () => opts.board.clock.now(), log });
    const ctxBase = { id: opts.id, lang: opts.lang, firmwareVersion: opts.firmwareVersion ?? VERSION };
    const connection = new Connection({
      clientId: `payspeaker-${opts.id}`,
      brokerUrl: opts.brokerUrl,
      machine,
      clock: opts.board.clock,
      log,
      will: { topic: topics.state(opts.id), payload: stateJson(ctxBase, false) },
      // Filled from the extensions' declarations below, before the connection starts.
      subscriptions: () => [...routes.keys()],
      keepaliveMs: opts.settings?.keepaliveMs,
      mqtt: opts.mqtt,
      transport: opts.transport,
      backoff: new Backoff(opts.backoff),
      intake: async (topic, payload) => {
        const take = routes.get(topic);
        if (take) return take(payload);
        log.warn({ topic }, 'a message on a topic no extension declared: ignored');
      },
    });
    const volume = new VolumeSetting(opts.board.nvs);
    const trust = opts.trust ?? new Trust({ publicKey: null });
    if (trust.insecure) {
      log.warn(
        'insecure: notification and command signatures are not checked, anyone who can publish to this device can make it announce a payment',
      );
    }
    const settings = { ...DEFAULT_SETTINGS, ...opts.settings };
    const ctx: FirmwareContext = {
      ...ctxBase,
      brokerUrl: opts.brokerUrl,
      board: opts.board,
      log,
      settings,
      machine,
      connection,
      announcer: new Announcer(opts.voice, opts.board.audio, opts.lang, () => volume.level),
      payments: new PaymentStore(opts.board.nvs, opts.board.clock, log, settings.rememberedIds),
      volume,
      trust,
      emit: (e) => this.report(e),
      show: () => presence.show(),
      publishState: () => presence.refresh(),
      sendCommandResult: async (result) => {
        await connection.publish(topics.commandResult(opts.id), JSON.stringify(result), { qos: 1 });
      },
    };
    const presence = new PresenceExtension(ctx);
    const telemetry = new TelemetryExtension(ctx);
    // The clock first: payments it holds while the board clock reads 1970 go on once it is set.
    const time = new TimeExtension(ctx, { onSynced: () => payments.clockSynced() });
    const payments = new PaymentsExtension(ctx, { clockTrusted: () => time.trusted() });
    const features: Extension[] = [
      presence,
      time,
      payments,
      new ControlsExtension(ctx),
      ...(opts.platformExtensions?.(ctx) ?? []),
      telemetry,
    ];
    const extensions = [...features, new CommandsExtension(ctx, collectCommands(features))];
    const routes = collectTopics(extensions);
    this.on('event', (e) => telemetry.observe(e));
    machine.on('transition', ({ from, to }) => this.report({ event: 'state', device: opts.id, state: to, from }));
    this.running = { ctx, extensions };
    for (const ext of this.running.extensions) await ext.start();
    prompt(ctx, 'power-on');
    machine.send('booted');
    connection.start();
  }

  /** Boots, and resolves once the device is online for the first time. */
  async start(): Promise<void> {
    await this.boot();
    await this.running!.ctx.machine.when('online');
  }

  /** Waits for queued announcements, says goodbye on the state topic, and disconnects. */
  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    this.running = null;
    running.ctx.connection.closeIntake(); // what arrives now stays with the broker for next time
    await running.ctx.announcer.idle();
    for (const ext of [...running.extensions].reverse()) await ext.stop();
    await running.ctx.connection.stop();
    await this.opts.board.close();
  }

  /** Resolves once every announcement queued so far has played. */
  idle(): Promise<void> {
    return this.running?.ctx.announcer.idle() ?? Promise.resolve();
  }

  private report(e: SpeakerEvent): void {
    const log = this.running?.ctx.log;
    // Debug, not info: whoever shows the events (the CLI's 🔊 line) already prints each
    // announcement; at info a terminal showed every payment twice.
    if (e.event === 'announced') log?.debug({ payment: e.id, latencyMs: e.latencyMs }, `announced: ${e.text}`);
    this.emit('event', e);
  }
}

/** Each topic is taken by the one extension that declared it. */
function collectTopics(extensions: Extension[]): Map<string, TopicHandler> {
  const routes = new Map<string, TopicHandler>();
  for (const ext of extensions) {
    for (const [topic, take] of Object.entries(ext.topics?.() ?? {})) {
      if (routes.has(topic)) throw new Error(`two firmware extensions declare the topic ${topic}`);
      routes.set(topic, take);
    }
  }
  return routes;
}

function collectCommands(extensions: Extension[]): Partial<Record<CommandName, CommandHandler>> {
  const handlers: Partial<Record<CommandName, CommandHandler>> = {};
  for (const ext of extensions) {
    for (const [name, run] of Object.entries(ext.commands?.() ?? {}) as [CommandName, CommandHandler][]) {
      if (handlers[name]) throw new Error(`two firmware extensions declare the command ${name}`);
      handlers[name] = run;
    }
  }
  return handlers;
}
