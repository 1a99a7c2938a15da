/**
 * A scenario's trouble on the way to the broker: speakers going offline and coming back,
 * reconnect storms, and random faults. Each group of speakers gets its own fault proxy
 * (tools/chaos/proxy.ts) in the coordinator, and its speakers connect through it instead of
 * straight to the broker, so a fault strikes exactly that share of the fleet, at the TCP level,
 * where a real shop's 4G link fails. The groups are disjoint slices, drawn by seed.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { startFaultProxy, type FaultProxy } from '../chaos/proxy.ts';
import type { Scenario } from './scenario.ts';

export type GroupSpec =
  | { kind: 'offline'; share: number; atMs: number; forMs: number }
  | { kind: 'storm'; share: number; atMs: number; fault: 'reset' | 'drop' }
  | {
      kind: 'chaos';
      share: number;
      meanFaultAfterMs: number;
      faults?: Partial<Record<'reset' | 'drop' | 'blackhole', number>>;
      blackholeMs: number;
    };

export interface Group {
  spec: GroupSpec;
  /** Device indices in this group, ascending. */
  devices: number[];
}

export function groupSpecs(s: Scenario): GroupSpec[] {
  return [
    ...s.offline.map((o): GroupSpec => ({ kind: 'offline', share: o.share, atMs: o.at, forMs: o.for })),
    ...s.storms.map((o): GroupSpec => ({ kind: 'storm', share: o.share, atMs: o.at, fault: o.fault })),
    ...(s.chaos
      ? [
          {
            kind: 'chaos',
            share: s.chaos.share,
            meanFaultAfterMs: s.chaos.meanFaultAfter,
            faults: s.chaos.faults,
            blackholeMs: s.chaos.blackholeFor,
          } satisfies GroupSpec,
        ]
      : []),
  ];
}

/**
 * Which devices each group holds: a seeded shuffle of the fleet cut into consecutive pieces of
 * each group's share (at least one device for a share above 0). Returns, per device, its route:
 * 0 straight to the broker, g + 1 through group g's proxy.
 */
export function planGroups(
  devices: number,
  specs: readonly GroupSpec[],
  seed: number,
): { groups: Group[]; routes: number[] } {
  const rng = xoroshiro128plus(seed ^ 0x5eed);
  const order = Array.from({ length: devices }, (_, i) => i);
  for (let i = devices - 1; i > 0; i--) {
    const j = uniformInt(rng, 0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const routes = new Array<number>(devices).fill(0);
  let next = 0;
  const groups = specs.map((spec, g) => {
    const n = Math.min(devices - next, Math.max(1, Math.round(spec.share * devices)));
    const members = order.slice(next, next + n).sort((a, b) => a - b);
    next += n;
    for (const d of members) routes[d] = g + 1;
    return { spec, devices: members };
  });
  return { groups, routes };
}

/** What happened to a group, for the report. */
export interface NetworkEvent {
  kind: GroupSpec['kind'];
  devices: number;
  /** Seconds from the start of sending. */
  atS: number | null;
  forS: number | null;
  /** Faults the group's proxy injected (resets, drops, black holes). */
  faults: { reset: number; drop: number; blackhole: number; refuse: number };
}

export class FleetNetwork {
  private readonly timers: NodeJS.Timeout[] = [];

  private constructor(
    /** Route r's URL: [0] is the broker itself, [g + 1] group g's proxy. */
    readonly urls: string[],
    private readonly groups: Group[],
    private readonly proxies: FaultProxy[],
  ) {}

  static async start(brokerUrl: string, groups: Group[], seed: number): Promise<FleetNetwork> {
    const target = brokerAddress(brokerUrl);
    const proxies: FaultProxy[] = [];
    try {
      for (const [g, { spec }] of groups.entries()) {
        proxies.push(
          await startFaultProxy({
            target,
            seed: seed + g,
            // Random faults start with the run; offline and storms wait for their moment (begin()).
            ...(spec.kind === 'chaos' && {
              random: { meanMs: spec.meanFaultAfterMs, weights: spec.faults, blackholeMs: spec.blackholeMs },
            }),
          }),
        );
      }
    } catch (err) {
      await Promise.all(proxies.map((p) => p.close()));
      throw err;
    }
    return new FleetNetwork([brokerUrl, ...proxies.map((p) => viaProxy(brokerUrl, p.port))], groups, proxies);
  }

  /** Arms the offline and storm moments, counted from now (the start of sending). */
  begin(): void {
    for (const [g, { spec }] of this.groups.entries()) {
      const proxy = this.proxies[g]!;
      if (spec.kind === 'offline') {
        this.timers.push(
          setTimeout(() => {
            // Refuse reconnects for the outage, then cut what is connected: the box is off the network.
            proxy.pause(spec.forMs);
            proxy.resetAll();
          }, spec.atMs),
        );
      } else if (spec.kind === 'storm') {
        this.timers.push(setTimeout(() => (spec.fault === 'drop' ? proxy.dropAll() : proxy.resetAll()), spec.atMs));
      }
    }
  }

  events(): NetworkEvent[] {
    return this.groups.map(({ spec, devices }, g) => {
      const { faults } = this.proxies[g]!.stats();
      return {
        kind: spec.kind,
        devices: devices.length,
        atS: spec.kind === 'chaos' ? null : spec.atMs / 1000,
        forS: spec.kind === 'offline' ? spec.forMs / 1000 : null,
        faults: { reset: faults.reset, drop: faults.drop, blackhole: faults.blackhole, refuse: faults.refuse },
      };
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await Promise.all(this.proxies.map((p) => p.close()));
  }
}

const DEFAULT_PORTS: Record<string, number> = {
  'mqtt:': 1883,
  'tcp:': 1883,
  'mqtts:': 8883,
  'ssl:': 8883,
  'tls:': 8883,
  'ws:': 80,
  'wss:': 443,
};

function brokerAddress(url: string): { host: string; port: number } {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : (DEFAULT_PORTS[u.protocol] ?? 1883),
  };
}

/**
 * The broker's URL with the proxy's address. The proxy forwards bytes, TLS included, so an
 * mqtts speaker still checks the broker's certificate; the proxy listens on 127.0.0.1, which
 * the development certificate names (`payspeaker certs`).
 */
function viaProxy(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString().replace(/\/$/, '');
}
