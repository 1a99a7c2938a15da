/**
 * Whether the device is online, and with which firmware, as its retained state message on the
 * broker says (device/extensions/presence.ts writes it; its last will flips it to offline).
 * Flash watches it as the backend, with the backend's credentials from the broker's data dir.
 */
import type { MqttClient } from 'mqtt';
import { connectOnce, endClient, tlsClientOptions } from '../../src/mqtt/connect.ts';
import { topics } from '../../src/protocol/index.ts';
import type { Credentials } from '../../broker/credentials.ts';
import { FlashError } from './errors.ts';

export interface DevicePresence {
  online: boolean;
  firmware: string | null;
  at: number;
}

export class PresenceWatch {
  /** The last state message seen (retained or live), or null. */
  latest: DevicePresence | null = null;

  private constructor(private readonly client: MqttClient) {}

  static async open(opts: {
    brokerUrl: string;
    device: string;
    credentials: Credentials | null;
    ca: string | null;
  }): Promise<PresenceWatch> {
    const clientId = `backend-flash-${opts.device}-${process.pid}-${Date.now().toString(36)}`;
    // Checked before anything is sent: a flash that could not tell whether it worked is not started.
    const client = await connectOnce(opts.brokerUrl, {
      clientId,
      ...(opts.credentials ?? {}),
      ...tlsClientOptions(opts.brokerUrl, opts.ca),
    }).catch((err: Error) => {
      throw new FlashError('input', `cannot watch ${opts.device} come online: ${err.message}`);
    });
    const watch = new PresenceWatch(client);
    client.on('message', (_topic, payload) => {
      try {
        const s = JSON.parse(payload.toString()) as { online?: unknown; firmware?: unknown };
        watch.latest = {
          online: s.online === true,
          firmware: typeof s.firmware === 'string' ? s.firmware : null,
          at: Date.now(),
        };
      } catch {
        // not a state message: ignore
      }
    });
    await client.subscribeAsync(topics.state(opts.device), { qos: 1 });
    return watch;
  }

  isOnlineWith(version: string): boolean {
    return this.latest?.online === true && this.latest.firmware === version;
  }

  close(): Promise<void> {
    return endClient(this.client);
  }
}
