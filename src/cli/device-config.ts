/**
 * A device's own config file, as `payspeaker provision` writes it: who it is, where its broker
 * is, its MQTT credentials, and the backend's public key it trusts payments from.
 */
import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { isDeviceId, publicKeyFromString } from '../protocol/index.ts';
import type { KeyObject } from 'node:crypto';
import { CliError } from './exit-codes.ts';

const schema = z.object({
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

export function loadDeviceConfig(file: string): DeviceConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`--config ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}: pass the file "payspeaker provision" wrote`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliError(`--config ${file}: "${issue.path.join('.') || '(top level)'}": ${issue.message}: provision the device again (npx payspeaker provision ID --force)`);
  }
  const c = parsed.data;
  let key: KeyObject | null = null;
  try {
    key = c.backendPublicKey === null ? null : publicKeyFromString(c.backendPublicKey);
  } catch (err) {
    throw new CliError(`--config ${file}: backendPublicKey: ${(err as Error).message}`);
  }
  if (c.ca !== undefined) {
    try {
      if (!new X509Certificate(c.ca).ca) throw new Error('it is not a CA certificate');
    } catch (err) {
      throw new CliError(`--config ${file}: ca: ${(err as Error).message}: provision the device again (npx payspeaker provision ID --force)`);
    }
  }
  return { ...c, backendPublicKey: key, ca: c.ca ?? null };
}
