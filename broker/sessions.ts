/**
 * Connected devices: presence in the registry (online, last seen) and revocation. `revoke`
 * runs in another process, so the broker cannot be told: it asks SQLite every second whether
 * another process committed (data_version, one cheap pragma) and only then re-checks the
 * connected devices, closing those revoked, deleted or re-provisioned with a new secret.
 */
import type { Aedes, Client } from 'aedes';
import type { Authenticator } from './auth.ts';
import type { Registry, StoredIdentity } from './registry.ts';
import type { Logger } from '../src/log.ts';

export interface SessionsOptions {
  /** How often to look for registry changes made by other processes. Default 1000 ms. */
  pollMs?: number;
  now?: () => number;
}

export class Sessions {
  /** device id → its connections (more than one only for a moment, during a session takeover). */
  private readonly connected = new Map<string, Set<Client>>();
  /** Closed by us, not yet gone: closed once, logged once. */
  private readonly closing = new WeakSet<Client>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly aedes: Aedes,
    private readonly registry: Registry,
    private readonly auth: Authenticator,
    private readonly log: Logger,
    private readonly opts: SessionsOptions = {},
  ) {}

  start(): void {
    this.registry.markAllOffline();
    this.aedes.on('client', (client) => this.onConnect(client));
    this.aedes.on('clientDisconnect', (client) => this.onDisconnect(client));
    this.timer = setInterval(() => this.poll(), this.opts.pollMs ?? 1000);
    this.timer.unref();
  }

  /** Marks every tracked device offline; later disconnect events (the broker closing) are ignored. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const id of this.connected.keys()) this.setPresence(id, false);
    this.connected.clear();
  }

  private onConnect(client: Client): void {
    const id = this.deviceId(client);
    if (this.stopped || !id) return;
    let set = this.connected.get(id);
    if (!set) this.connected.set(id, (set = new Set()));
    set.add(client);
    this.setPresence(id, true);
    // A revoke committed after authenticate but seen by a poll before this client was tracked
    // would be missed: look once more, after aedes finishes connecting.
    setImmediate(() => this.safely('check a device', () => this.checkStillValid(id)));
  }

  private onDisconnect(client: Client): void {
    const id = this.deviceId(client);
    const set = id ? this.connected.get(id) : undefined;
    if (this.stopped || !id || !set?.delete(client)) return;
    if (set.size > 0) return; // a takeover: the new connection keeps the device online
    this.connected.delete(id);
    this.setPresence(id, false);
  }

  private poll(): void {
    this.safely('look for revocations', () => {
      if (this.stopped || !this.registry.changedElsewhere()) return;
      for (const id of [...this.connected.keys()]) this.checkStillValid(id);
    });
  }

  private setPresence(id: string, online: boolean): void {
    this.safely(`record ${id} ${online ? 'online' : 'offline'}`, () =>
      this.registry.setPresence(id, online, this.now()),
    );
  }

  /** Runs inside aedes events and timers: a registry error (disk full, locked) must not stop the broker. */
  private safely(what: string, work: () => void): void {
    try {
      work();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, `could not ${what} in the registry`);
    }
  }

  private checkStillValid(id: string): void {
    const clients = this.connected.get(id);
    if (this.stopped || !clients) return;
    const identity = this.registry.find(id);
    for (const client of clients) {
      const why = this.invalidBecause(identity, client);
      if (!why || this.closing.has(client)) continue;
      this.closing.add(client);
      this.log.warn({ device: id, clientId: client.id }, `closing device ${id}'s connection: ${why}`);
      client.close();
    }
  }

  private invalidBecause(identity: StoredIdentity | null, client: Client): string | null {
    if (!identity) return 'removed from the registry';
    if (identity.status === 'revoked') return 'revoked';
    const checkedAgainst = this.auth.session(client)?.secretHash;
    return checkedAgainst && identity.secretHash.equals(checkedAgainst) ? null : 're-provisioned with a new secret';
  }

  private deviceId(client: Client): string | null {
    const principal = this.auth.session(client)?.principal;
    return principal?.role === 'device' ? principal.id : null;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}
