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
import { LOG_LEVELS } from './log.ts';

/**
 * A duration as the CLI's duration options take it (tools/cli/duration.ts): "10s", "500ms",
 * "2m", "1h", or a bare number of seconds.
 */
export const DURATION_PATTERN = /^\d+(?:\.\d+)?\s*(ms|s|m|h)?$/;

// Each `error` is what the value should have been, as a noun: the message reads
// `FILE: "key" is VALUE, not <error>`, naming the file's key rather than a flag nobody typed.
const text = (what = 'a string') => z.string({ error: what });
const duration = () => text('a duration like 30s').regex(DURATION_PATTERN, { error: 'a duration like 30s' });
const port = () => z.number({ error: 'a port number from 0 to 65535' }).int().min(0).max(65535);
const url = (what: string, schemes: RegExp) =>
  text(what).refine((v) => schemes.test(v) && URL.canParse(v), { error: what });
const brokerUrl = () => url('a broker URL like mqtt://127.0.0.1:1883', /^(mqtts?|wss?|tcp|ssl|tls):\/\//i);

export const settingsSchema = z.strictObject({
  broker: brokerUrl().optional(),
  device: text().optional(),
  lang: text().optional(),
  audio: text().optional(),
  voiceEngine: text().optional(),
  clipGap: duration().optional(),
  staleAfter: duration().optional(),
  keepalive: duration().optional(),
  burstDepth: z.number({ error: 'a whole number of at least 1' }).int().min(1).optional(),
  dataDir: text('a directory path').optional(),
  currency: text().optional(),
  channel: text().optional(),
  host: text().optional(),
  port: port().optional(),
  wsPort: port().optional(),
  /** Browser origins allowed to open WebSocket connections to the broker (`broker --ws-origin`). */
  wsOrigins: z.array(text(), { error: 'a list of origins like ["http://127.0.0.1:5173"]' }).optional(),
  httpPort: port().optional(),
  /** The notification API `pay` posts to, e.g. http://127.0.0.1:8081. */
  api: url('a URL like http://127.0.0.1:8081', /^https?:\/\//i).optional(),
  paymentTtl: duration().optional(),
  retryAfter: duration().optional(),
  retryMax: duration().optional(),
  /** Broker sessions: "memory" or redis://… (docs/CLUSTER.md). */
  persistence: text().optional(),
  cluster: text().optional(),
  timeout: duration().optional(),
  logLevel: z.enum(LOG_LEVELS, { error: `one of ${LOG_LEVELS.join(', ')}` }).optional(),
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
  const shown = displayPath(file, cwd);
  let json: string;
  try {
    json = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${shown}: ${fileProblem(err as NodeJS.ErrnoException)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`config file ${shown} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${shown}: ${describeIssue(parsed.error.issues[0]!, raw)}`);
  return { file, settings: parsed.data };
}

/** One bad setting, as the user wrote it: the key, the value, and what it should have been. */
function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const known = Object.keys(settingsSchema.shape).join(', ');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    return `${keys} ${issue.keys.length === 1 ? 'is not a setting' : 'are not settings'} (known settings: ${known})`;
  }
  if (issue.path.length === 0) return `the file must hold one JSON object of settings (known settings: ${known})`;
  let value: unknown = raw;
  for (const key of issue.path) value = (value as Record<PropertyKey, unknown>)[key as PropertyKey];
  return `"${issue.path.join('.')}" is ${JSON.stringify(value)}, not ${issue.message}`;
}

/** The file as the user would name it: relative to the working directory when it is inside it. */
function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, path.resolve(cwd, file));
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** Why a file could not be read, in words (the errno code alone means little to most people). */
export function fileProblem(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'a part of its path is not a directory';
    case 'EROFS':
      return 'read-only file system';
    default:
      return err.code ?? err.message;
  }
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
