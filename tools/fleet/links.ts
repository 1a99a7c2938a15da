/**
 * A worker's hold on its devices' MQTT links, for a reconnect storm: each device's client (made
 * through transport.ts), cut all at once on `storm()`, and the moment each is online again.
 * "Online" is the device's own word: a speaker's `online` event (connected and subscribed, as
 * its presence says), a raw client's CONNACK. How fast they come back is theirs: a speaker's
 * firmware backoff with jitter (device/backoff.ts), a raw client's fixed MQTT.js reconnectPeriod.
 */
import { preciseNow } from './clock.ts';
import { cutLink, fleetTransport, type LinkHandle } from './transport.ts';

export class Links {
  private readonly clients: (LinkHandle | undefined)[];
  /** Per device of the slice: when it was cut (NaN: not cut), and when it was back (NaN: not yet). */
  private readonly cutAt: Float64Array;
  private readonly backAt: Float64Array;
  private dropped = 0;
  private returned = 0;

  constructor(devices: number) {
    this.clients = new Array<LinkHandle | undefined>(devices);
    this.cutAt = new Float64Array(devices).fill(NaN);
    this.backAt = new Float64Array(devices).fill(NaN);
  }

  /** Device i's transport: from `localAddress` (null: the system's choice), its client kept here. */
  transport(i: number, localAddress: string | null) {
    return fleetTransport(localAddress, (client) => this.track(i, client));
  }

  /** Device i's client, made by another transport: the one the storm cuts. */
  track(i: number, client: LinkHandle): void {
    this.clients[i] = client;
  }

  /** Cuts every link that is up, all in one turn of the event loop; returns how many and when. */
  storm(): { dropped: number; at: number } {
    const at = preciseNow();
    let dropped = 0;
    this.clients.forEach((client, i) => {
      if (!client?.connected) return;
      this.cutAt[i] = at;
      this.backAt[i] = NaN;
      dropped += 1;
      cutLink(client);
    });
    this.dropped = dropped;
    this.returned = 0;
    return { dropped, at };
  }

  /** Device i is online (again); counts only for a device the storm cut and not yet back. */
  online(i: number): void {
    if (Number.isNaN(this.cutAt[i]!) || !Number.isNaN(this.backAt[i]!)) return;
    this.backAt[i] = preciseNow();
    this.returned += 1;
  }

  /** Devices cut by the last storm, and how many of them are back. */
  get counts(): { dropped: number; back: number } {
    return { dropped: this.dropped, back: this.returned };
  }

  /** Per cut device, ms from its cut until it was back (NaN: not yet). */
  reconnectMs(): Float64Array {
    const out: number[] = [];
    for (let i = 0; i < this.cutAt.length; i++)
      if (!Number.isNaN(this.cutAt[i]!)) out.push(this.backAt[i]! - this.cutAt[i]!);
    return Float64Array.from(out);
  }
}
