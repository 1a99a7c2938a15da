/**
 * Settings from a config file. Precedence, highest first: command-line flag, environment
 * variable (PAYSPEAKER_*), config file, built-in default. The file is JSON and is found at
 * --settings FILE, else $PAYSPEAKER_CONFIG, else ./payspeaker.config.json, else
 * <user config dir>/payspeaker/config.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import envPaths from 'env-paths';
import { z } from 'zod';

export const settingsSchema = z.strictObject({
  broker: z.string().optional(),
  device: z.string().optional(),
  lang: z.string().optional(),
  audio: z.string().optional(),
  voiceEngine: z.string().optional(),
  clipGap: z.string().optional(),
  staleAfter: z.string().optional(),
  burstDepth: z.number().int().min(1).optional(),
  dataDir: z.string().optional(),
  currency: z.string().optional(),
  channel: z.string().optional(),
  host: z.string().optional(),
  port: z.number().int().min(0).max(65535).optional(),
  wsPort: z.number().int().min(0).max(65535).optional(),
  /** Browser origins allowed to open WebSocket connections to the broker (`broker --ws-origin`). */
  wsOrigins: z.array(z.string()).optional(),
  httpPort: z.number().int().min(0).max(65535).optional(),
  /** The notification API `pay` posts to, e.g. http://127.0.0.1:8081. */
  api: z.string().optional(),
  paymentTtl: z.string().optional(),
  retryAfter: z.string().optional(),
  retryMax: z.string().optional(),
  /** Broker sessions: "memory" or redis://… (docs/CLUSTER.md). */
  persistence: z.string().optional(),
  cluster: z.string().optional(),
  timeout: z.string().optional(),
  logLevel: z.string().optional(),
});
export type Settings = z.infer<typeof settingsSchema>;

export interface LoadedConfig {
  file: string | null;
  settings: Settings;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** payspeaker's data directory (device NVS files; later the broker's registry) unless --data-dir says otherwise. */
export function defaultDataDir(): string {
  return envPaths('payspeaker', { suffix: '' }).data;
}

/** Each virtual device keeps its NVS in its own folder under the data directory. */
export function deviceNvsFile(dataDir: string, deviceId: string): string {
  return path.join(dataDir, 'devices', deviceId, 'nvs.json');
}

export function userConfigFile(): string {
  return path.join(envPaths('payspeaker', { suffix: '' }).config, 'config.json');
}

function findConfigFile(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string | null {
  const named = explicit ?? env.PAYSPEAKER_CONFIG;
  if (named) {
    if (!fs.existsSync(named))
      throw new ConfigError(
        `config file ${named} does not exist: check the path given by --settings or PAYSPEAKER_CONFIG`,
      );
    return named;
  }
  for (const candidate of [path.join(cwd, 'payspeaker.config.json'), userConfigFile()]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadedConfig {
  const file = findConfigFile(explicit, env, cwd);
  if (!file) return { file: null, settings: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? `"${issue.path.join('.')}"` : 'the top level';
    const known = Object.keys(settingsSchema.shape).join(', ');
    throw new ConfigError(`config file ${file}: ${where}: ${issue.message} (known settings: ${known})`);
  }
  return { file, settings: parsed.data };
}

/**
 * Finds `--settings FILE` / `--settings=FILE` before the full parse, so the file can supply
 * defaults. (Not `--config`: that names a device's own config file, as written by `provision`.)
 */
export function configFlag(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--settings') return argv[i + 1];
    if (arg.startsWith('--settings=')) return arg.slice('--settings='.length);
  }
  return undefined;
}
