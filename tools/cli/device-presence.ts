/**
 * What the CLI already knows about a device before it asks it anything (issue 14, item 8):
 * whether the broker's registry has ever heard of it, and whether its retained state says it
 * is offline. `command`, `ota` and `pay --direct` check this first, so a typo or a speaker that
 * is switched off is said at once instead of after the whole --timeout (or a 19 MB upload).
 */
import type { MqttClient } from 'mqtt';
import { topics } from '../../src/protocol/index.ts';
import { registryExists, type RegistryEntry } from '../../broker/registry.ts';
import { registryFile } from '../../broker/data-dir.ts';
import { withRegistry } from './data-option.ts';
import { CliError, EXIT } from './exit-codes.ts';

export type Presence =
  | { kind: 'online' }
  /** `since`: when the broker last saw it (the registry), null when only the retained state says so. */
  | { kind: 'offline'; since: number | null; source: 'retained state' | 'registry' }
  /** No retained state, and no registry entry that says it ever connected: no session on this broker. */
  | { kind: 'never-seen'; provisioned: boolean };

/**
 * How long to wait for the retained state after the SUBACK. aedes sends retained messages
 * right after the SUBACK (MQTT 3.1.1 §3.3.1.3), so a device that ever connected answers in a
 * few milliseconds; only one that never did costs the whole wait.
 */
const RETAINED_GRACE_MS = 500;

/**
 * Refuses a device the registry does not know (or has revoked), as `revoke` does; `secure`
 * says the connection used the backend's credentials, i.e. the registry in --data is this
 * broker's. Without a registry (an --insecure broker) there is nothing to check here.
 */
export function checkProvisioned(dataDir: string, device: string, secure: boolean): RegistryEntry | null {
  let known: boolean;
  try {
    known = secure && registryExists(dataDir);
  } catch (err) {
    throw new CliError(`cannot read the registry in ${dataDir}: ${(err as Error).message}: check --data DIR`);
  }
  if (!known) return null;
  const entry = withRegistry(dataDir, (registry) => registry.find(device));
  if (entry?.role !== 'device') {
    throw new CliError(
      `device ${device} is not provisioned in ${registryFile(dataDir)}: check --device (or --data), ` +
        `"npx payspeaker devices" lists those that are, "npx payspeaker provision ${device}" adds it`,
      EXIT.USAGE,
    );
  }
  if (entry.status === 'revoked') {
    throw new CliError(
      `device ${device} was revoked at ${clock(entry.revokedAt ?? 0)}: the broker refuses it, so it cannot answer; ` +
        `"npx payspeaker provision ${device} --force" gives it a new secret`,
      EXIT.USAGE,
    );
  }
  return entry;
}

/** Whether the device is online, from its retained state (and the registry entry, if there is one). */
export async function devicePresence(
  client: MqttClient,
  device: string,
  entry: RegistryEntry | null,
  graceMs = RETAINED_GRACE_MS,
): Promise<Presence> {
  const state = await retainedState(client, device, graceMs);
  const since = entry?.lastSeenAt ?? null;
  if (state !== null) return state.online ? { kind: 'online' } : { kind: 'offline', since, source: 'retained state' };
  if (entry?.online) return { kind: 'online' };
  if (since !== null) return { kind: 'offline', since, source: 'registry' };
  return { kind: 'never-seen', provisioned: entry !== null };
}

/** "SPK-9 is offline since 14:02" / "SPK-9 has never connected to this broker". */
export function describePresence(device: string, p: Exclude<Presence, { kind: 'online' }>): string {
  if (p.kind === 'never-seen')
    return p.provisioned
      ? `${device} is provisioned but has never connected to this broker`
      : `${device} has never connected to this broker (it has no retained state)`;
  const when = p.since === null ? '' : ` since ${clock(p.since)}`;
  const why =
    p.source === 'registry'
      ? "the broker's registry"
      : 'its retained state: it said goodbye, or the broker published its last will';
  return `${device} is offline${when} (${why})`;
}

/** The first state message on the device's state topic (the retained one), or null after `graceMs`. */
async function retainedState(client: MqttClient, device: string, graceMs: number): Promise<{ online: boolean } | null> {
  const topic = topics.state(device);
  let onMessage: (t: string, payload: Buffer) => void = () => undefined;
  const got = new Promise<{ online: boolean } | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), graceMs);
    onMessage = (t, payload) => {
      if (t !== topic) return;
      let online: unknown;
      try {
        online = (JSON.parse(payload.toString()) as { online?: unknown }).online;
      } catch {
        return; // a malformed state says nothing either way
      }
      if (typeof online !== 'boolean') return;
      clearTimeout(timer);
      resolve({ online });
    };
  });
  client.on('message', onMessage);
  try {
    await client.subscribeAsync(topic, { qos: 1 });
  } catch {
    client.off('message', onMessage);
    return null; // an ACL without state for the backend: ask anyway, as before
  }
  try {
    return await got;
  } finally {
    client.off('message', onMessage);
    await client.unsubscribeAsync(topic).catch(() => undefined);
  }
}

/** 14:02 today, else 2026-12-04 14:02 (local time: what the user's clock says). */
function clock(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  const hhmm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (new Date(now).toDateString() === d.toDateString()) return hhmm;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hhmm}`;
}
