/** A backend's view of one device over a real MQTT connection: publish, and collect what comes back. */
import type { KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import {
  makeNotification,
  parseAck,
  parseCommand,
  topics,
  type Ack,
  type Channel,
  type CommandResult,
  type Kind,
} from '../../src/protocol/index.ts';
import { signCommand } from '../../src/protocol/signing-node.ts';

export async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export class DeviceLink {
  readonly acks: Ack[] = [];
  readonly results: CommandResult[] = [];
  readonly states: Record<string, unknown>[] = [];
  readonly telemetry: Record<string, unknown>[] = [];
  private seq = 0;

  private constructor(
    readonly client: MqttClient,
    readonly device: string,
    /** The backend's signing key: commands are signed with it, as `payspeaker command` signs them. */
    private readonly privateKey: KeyObject | null,
  ) {
    client.on('message', (topic, payload) => {
      if (topic === topics.ack(device)) this.acks.push(parseAck(payload));
      else if (topic === topics.commandResult(device))
        this.results.push(JSON.parse(payload.toString()) as CommandResult);
      else if (topic === topics.state(device))
        this.states.push(JSON.parse(payload.toString()) as Record<string, unknown>);
      else if (topic === topics.telemetry(device))
        this.telemetry.push(JSON.parse(payload.toString()) as Record<string, unknown>);
    });
  }

  /** With `privateKey`, every command is signed (a speaker with the backend's public key runs nothing else). */
  static async open(brokerUrl: string, device: string, opts: { privateKey?: KeyObject } = {}): Promise<DeviceLink> {
    const client = await connectOnce(brokerUrl, {
      clientId: `test-backend-${device}-${process.pid}-${Math.random().toString(36).slice(2)}`,
    });
    await client.subscribeAsync(
      [topics.ack(device), topics.commandResult(device), topics.state(device), topics.telemetry(device)],
      { qos: 1 },
    );
    return new DeviceLink(client, device, opts.privateKey ?? null);
  }

  /** Publishes a payment notification; returns its id. */
  async pay(
    amount: number,
    patch: { id?: string; currency?: string; channel?: Channel; kind?: Kind; createdAt?: number } = {},
  ): Promise<string> {
    const id = patch.id ?? `PAY-${this.device}-${++this.seq}-${Date.now()}`;
    const n = makeNotification({
      device: this.device,
      amount,
      currency: 'CNY',
      channel: 'wechat',
      kind: 'payment',
      createdAt: Date.now(),
      ...patch,
      id,
    });
    await this.client.publishAsync(topics.notify(this.device), JSON.stringify(n), { qos: 1 });
    return id;
  }

  /**
   * Sends a command and resolves with its result. Signed (made now, for this device) when the
   * link has the backend's key and the command is well formed; sent as given otherwise.
   */
  async command(command: string, extra: Record<string, unknown> = {}): Promise<CommandResult> {
    const id = `CMD-${++this.seq}`;
    let payload: Record<string, unknown> = { v: 1, id, command, ...extra };
    const parsed = parseCommand(JSON.stringify(payload));
    if (this.privateKey && parsed.ok) {
      const signed = signCommand({ ...parsed.command, device: this.device, createdAt: Date.now() }, this.privateKey);
      payload = { ...signed };
    }
    await this.client.publishAsync(topics.command(this.device), JSON.stringify(payload), { qos: 1 });
    await until(() => this.results.some((r) => r.id === id), `the result of ${command}`);
    return this.results.find((r) => r.id === id)!;
  }

  ackFor(id: string): Ack | undefined {
    return this.acks.find((a) => a.id === id);
  }

  close(): Promise<void> {
    return endClient(this.client);
  }
}
