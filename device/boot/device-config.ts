/**
 * A device's own config, as `payspeaker provision` writes it: who it is, where its broker is,
 * its MQTT credentials, and the backend's public key it trusts payments (and firmware) from.
 * Pure parsing, shared by the CLI's `device --config` and the firmware on a Pi (which reads
 * ROOT/config/device.json): no CLI code, Node 18 compatible.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { isDeviceId } from '../../src/protocol/index.ts';
import { publicKeyFromString } from '../../src/protocol/signing-node.ts';

export const deviceConfigSchema = z.object({
  id: z.string().refine(isDeviceId, 'not a valid device id'),
  broker: z.string(),
  username: z.string(),
  password: z.string(),
  backendPublicKey: z.string().nullable(),
  /** The development CA (PEM) that signs the broker's TLS certificate; absent: the system's CAs. */
  ca: z.string().optional(),
});

export interface DeviceConfig {
  id: string;
  broker: string;
  username: string;
  password: string;
  /** Null in a config written before the backend had a key: such a device cannot check signatures. */
  backendPublicKey: KeyObject | null;
  /** PEM of the CA the broker's TLS certificate must be signed by (mqtts://, wss://); null: the system's CAs. */
  ca: string | null;
}

/** A config that cannot be used; the message names the field and what to do, without the file name. */
export class DeviceConfigError extends Error {
  override name = 'DeviceConfigError';
}

const REPROVISION = 'provision the device again (npx payspeaker provision ID --force)';

/** The first problem of a parsed zod result, as `"field": message`. */
export function describeIssue(issue: z.ZodError['issues'][number]): string {
  return `"${issue.path.join('.') || '(top level)'}": ${issue.message}`;
}

export function parseDeviceConfig(raw: unknown): DeviceConfig {
  const parsed = deviceConfigSchema.safeParse(raw);
  if (!parsed.success) throw new DeviceConfigError(`${describeIssue(parsed.error.issues[0]!)}: ${REPROVISION}`);
  const c = parsed.data;
  let key: KeyObject | null;
  try {
    key = c.backendPublicKey === null ? null : publicKeyFromString(c.backendPublicKey);
  } catch (err) {
    throw new DeviceConfigError(`backendPublicKey: ${(err as Error).message}`);
  }
  if (c.ca !== undefined) {
    try {
      if (!new X509Certificate(c.ca).ca) throw new Error('it is not a CA certificate');
    } catch (err) {
      throw new DeviceConfigError(`ca: ${(err as Error).message}: ${REPROVISION}`);
    }
  }
  return { ...c, backendPublicKey: key, ca: c.ca ?? null };
}
