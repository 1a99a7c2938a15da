/**
 * `payspeaker watch [--device ID]`: a live view of what happens between the backend and its
 * speakers, one line per message, until Ctrl-C.
 *
 * Two sources, because the backend's own identity may not read everything on the broker:
 * - MQTT, as the backend, on exactly the per-device filters broker/acl.ts lets it subscribe to
 *   (`devices/{+|ID}/ack`, `state`, `cmd/result`, `time/req`, and `telemetry` on request). The
 *   ACL refuses `#`, and also `notify` and `cmd`: the backend publishes those, it never reads
 *   them back.
 * - So the notifications come from the notification API's event stream (GET /v1/events): the
 *   outbox's history says when it published a payment (accepted, republished), when the speaker
 *   PUBACKed it (delivered), when it queued it for a retry and when it expired. A payment sent
 *   with `pay --direct` bypasses the outbox: only its ack shows.
 * Acks are taken from MQTT only (the event stream repeats them), so each shows once.
 */
import { Command, Option } from 'commander';
import type { MqttClient } from 'mqtt';
import { randomUUID } from 'node:crypto';
import { isDeviceId, parseDeviceTopic, TOPIC_ROOT } from '../../../src/protocol/index.ts';
import type { PaymentHistoryEntry } from '../../../src/api/types.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { untilShutdown } from '../signals.ts';
import { readBackendCredentials } from '../../../broker/credentials.ts';
import { DEFAULT_HTTP_PORT } from '../../../broker/service.ts';
import { ApiRequestError, NotificationApi, type PaymentWithHistory, type ServerEvent } from '../../api/client.ts';
import { caOption, connectBackend } from '../broker-connection.ts';
import { parseApiUrl, parseBrokerUrl } from '../url-option.ts';
import { localTime, money } from './payments.ts';

interface WatchFlags extends DataFlags {
  device?: string;
  broker: string;
  api: string;
  ca?: string;
  insecure?: boolean;
  telemetry?: boolean;
  events: boolean;
  json?: boolean;
}

/** What a device publishes that the backend may read (broker/acl.ts DEVICE_PUBLISHES). */
const LEAVES = ['ack', 'state', 'cmd/result', 'time/req'] as const;

export function watchCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new Command('watch')
    .description('live view of payments, acks, speaker state and command results, one line each')
    .option('--device <device-id>', 'only this speaker (default: every speaker)')
    .addOption(commonOptions.broker(s).argParser(parseBrokerUrl()))
    .addOption(
      new Option('--api <url>', 'the notification API, for the notifications it publishes')
        .argParser(parseApiUrl())
        .env('PAYSPEAKER_API')
        .default(s.api ?? `http://127.0.0.1:${DEFAULT_HTTP_PORT}`),
    )
    .option('--no-events', 'MQTT only: do not read the API, so no notification lines')
    .option('--telemetry', "also show each speaker's telemetry (one line a minute per speaker)")
    .addOption(caOption())
    .option('--insecure', 'no credentials: watch an --insecure broker')
    .addOption(commonOptions.json())
    .addHelpText(
      'after',
      `
Arrows: ← what the service sent to a speaker, → what a speaker answered. The first state line
of each speaker is its retained state (what it last said), marked (retained).

Examples:
  npx payspeaker watch
    12:03:04 SPK-0001 state online v0.1.0 zh-CN vol 7 (retained)
    12:03:09 SPK-0001 ← notify PAY-MWV1VE0Q-5CCE2C48D3 123.45 CNY wechat
    12:03:09 SPK-0001 → delivered PAY-MWV1VE0Q-5CCE2C48D3 (stored on the speaker)
    12:03:11 SPK-0001 → ack played PAY-MWV1VE0Q-5CCE2C48D3 "微信收款一百二十三点四五元"
    12:04:30 SPK-0001 state offline
  npx payspeaker watch --device SPK-0001 --json | jq -c 'select(.type == "ack")'

Runs until Ctrl-C (exit 0); if the broker goes away it says so and exits 5.`,
    );
  return addDataOption(cmd, s).action(async (flags: WatchFlags) => {
    if (flags.device !== undefined && !isDeviceId(flags.device))
      throw new CliError(
        `--device ${JSON.stringify(flags.device)} is not a valid device id: use letters, digits, "-" or "_" (e.g. SPK-0001)`,
      );
    const dataDir = resolveDataDir(flags);
    const credentials = flags.insecure ? null : readBackendCredentials(dataDir);
    const print = (line: WatchLine | null) => {
      if (line) ctx.print(flags.json ? JSON.stringify(line.json) : line.text);
    };
    const client = await connectBackend(flags, `backend-watch-${randomUUID()}`, credentials);
    const stopEvents = new AbortController();
    try {
      const brokerGone = new Promise<string>((resolve) => {
        client.once('close', () => resolve('the connection closed'));
        client.on('error', (err) => resolve(err.message));
      });
      client.on('message', (topic, payload, packet) => print(describeMessage(topic, payload, packet.retain)));
      await subscribe(client, flags);
      const events = flags.events
        ? await openEvents(new NotificationApi(flags.api, credentials?.password ?? null), flags, stopEvents.signal)
        : null;
      if (events) void followEvents(events, flags, stopEvents.signal, print);
      // Listening for Ctrl-C before saying "watching": a script may stop it the moment it reads that.
      const shutdown = untilShutdown().then(() => null);
      process.stderr.write(
        `watching ${flags.device ?? 'every speaker'} on ${flags.broker}` +
          `${events ? ` and ${flags.api}/v1/events` : ' (no notification lines)'}; Ctrl-C stops\n`,
      );
      const ended = await Promise.race([shutdown, brokerGone]);
      if (ended !== null)
        throw new CliError(
          `lost the broker at ${flags.broker} (${ended}): watch stopped; start it again once the broker is back`,
          EXIT.UNREACHABLE,
        );
    } finally {
      stopEvents.abort();
      client.end(true);
    }
  });
}

/** The filters the backend may hold, for every speaker (`+`) or one; a refused one is an error. */
async function subscribe(client: MqttClient, flags: WatchFlags): Promise<void> {
  const level = flags.device ?? '+';
  const leaves = flags.telemetry ? [...LEAVES, 'telemetry'] : LEAVES;
  const filters = leaves.map((leaf) => `${TOPIC_ROOT}/devices/${level}/${leaf}`);
  const refused = (topics: string[]) =>
    new CliError(
      `the broker refused the subscription to ${topics.join(', ')}: is --data the broker's data directory (the backend's credentials)?`,
      EXIT.REFUSED,
    );
  let granted;
  try {
    granted = await client.subscribeAsync(filters, { qos: 1 });
  } catch (err) {
    // MQTT.js rejects on a SUBACK return code 0x80, a refusal [MQTT-3.9.3]: the broker's ACL said no.
    if ((err as { code?: unknown }).code === 128) throw refused(filters);
    throw err;
  }
  // Older MQTT.js versions resolve with the refusal in the grant instead.
  const denied = granted.filter((g) => g.qos === 128).map((g) => g.topic);
  if (denied.length > 0) throw refused(denied);
}

/**
 * The API's event stream, or null (with a line saying why) when it cannot be read: MQTT alone
 * still shows acks, states and command results.
 */
async function openEvents(
  api: NotificationApi,
  flags: WatchFlags,
  signal: AbortSignal,
): Promise<AsyncGenerator<ServerEvent> | null> {
  try {
    return await api.events({ device: flags.device, signal });
  } catch (err) {
    const why = err instanceof ApiRequestError ? `HTTP ${err.status}: ${err.message}` : (err as Error).message;
    process.stderr.write(`no notification lines: cannot follow ${flags.api}/v1/events (${why}); pass --api URL\n`);
    return null;
  }
}

/**
 * Prints the outbox's side of each payment as its history grows. Each payment event carries the
 * whole history; `seen` remembers how much of it was printed, so each entry shows once.
 */
async function followEvents(
  events: AsyncGenerator<ServerEvent>,
  flags: WatchFlags,
  signal: AbortSignal,
  print: (line: WatchLine | null) => void,
): Promise<void> {
  const seen = new Map<string, number>();
  try {
    for await (const e of events) {
      if (e.event !== 'payment') continue;
      const p = (e.data as { payment: PaymentWithHistory }).payment;
      // First sight of a payment already under way (watch started after it): its newest step only.
      const from = seen.get(p.id) ?? (p.history.length === 1 ? 0 : p.history.length - 1);
      for (const entry of p.history.slice(from)) print(describePaymentEvent(p, entry));
      seen.delete(p.id); // re-inserted last, so the Map's order is least recently changed first
      seen.set(p.id, p.history.length);
      if (seen.size > 10_000) seen.delete(seen.keys().next().value!);
    }
  } catch (err) {
    if (!signal.aborted) process.stderr.write(`${(err as Error).message}\n`);
    return;
  }
  // The broker stopping ends the stream too; the MQTT side then says so, with the exit code.
  if (!signal.aborted) process.stderr.write(`the API's event stream ended: no more notification lines\n`);
}

/** One line of output: `text` for a person, `json` for --json. */
export interface WatchLine {
  text: string;
  json: Record<string, unknown>;
}

/** A line for one MQTT message on a device topic; null for a topic that is not one. */
function describeMessage(topic: string, payload: Buffer, retained: boolean): WatchLine | null {
  const where = parseDeviceTopic(topic);
  if (!where) return null;
  const at = Date.now();
  const device = where.deviceId;
  let m: Record<string, unknown>;
  try {
    const parsed = JSON.parse(payload.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    m = parsed as Record<string, unknown>;
  } catch {
    // A speaker's bug is worth seeing as it is, not hiding.
    const raw = payload.toString('utf8').slice(0, 200);
    return line(at, device, `→ ${where.leaf} (not a JSON object: ${JSON.stringify(raw)})`, {
      type: where.leaf,
      raw,
    });
  }
  const json = { type: TYPES[where.leaf] ?? where.leaf, ...(retained && { retained: true }), message: m };
  switch (where.leaf) {
    case 'ack':
      return line(at, device, `→ ack ${describeAck(m)}`, json);
    case 'state':
      return line(at, device, `state ${describeState(m)}${retained ? ' (retained)' : ''}`, json);
    case 'cmd/result':
      return line(at, device, `→ cmd ${describeResult(m)}`, json);
    case 'time/req':
      return line(at, device, '→ asks the time (the broker answers it)', json);
    case 'telemetry':
      return line(at, device, `→ telemetry ${describeTelemetry(m)}`, json);
    default:
      return line(at, device, `→ ${where.leaf}`, json);
  }
}

const TYPES: Record<string, string> = { 'cmd/result': 'command-result', 'time/req': 'time-request' };

/** A line for one step of a payment's history, from the API's event stream; null for acks (MQTT shows them). */
function describePaymentEvent(p: PaymentWithHistory, e: PaymentHistoryEntry): WatchLine | null {
  const { history: _history, ...payment } = p;
  // Both publishes of a payment are "notify" for a script, as they are on the wire.
  const json = { type: e.event === 'accepted' || e.event === 'republished' ? 'notify' : e.event, payment, entry: e };
  switch (e.event) {
    case 'accepted':
      return line(
        e.at,
        p.device,
        `← notify ${p.id} ${money(p)} ${p.channel}${p.kind === 'refund' ? ' refund' : ''}`,
        json,
      );
    case 'republished':
      return line(e.at, p.device, `← notify ${p.id} again (${e.detail ?? 'a retry'})`, json);
    case 'delivered':
      return line(e.at, p.device, `→ delivered ${p.id} (stored on the speaker)`, json);
    case 'retrying':
      return line(e.at, p.device, `↻ ${p.id} queued again: the service will publish it again`, json);
    case 'expired':
      return line(e.at, p.device, `✗ ${p.id} expired: no final ack within its time-to-live`, json);
    default:
      return null;
  }
}

function line(at: number, device: string, what: string, json: Record<string, unknown>): WatchLine {
  return { text: `${localTime(at, true).slice(11)} ${device} ${what}`, json: { at, device, ...json } };
}

function describeAck(m: Record<string, unknown>): string {
  const id = str(m.id) ?? '(no id)';
  switch (m.status) {
    case 'played':
    case 'summarized':
      return `${String(m.status)} ${id}${m.text === undefined ? '' : ` ${JSON.stringify(m.text)}`}`;
    case 'rejected':
      return `rejected ${id} ${str(m.reason) ?? '(no reason)'}: ${str(m.detail) ?? ''}`.trimEnd();
    default:
      return `${str(m.status) ?? '(no status)'} ${id}`;
  }
}

function describeState(m: Record<string, unknown>): string {
  if (m.online !== true) return 'offline';
  const parts = ['online'];
  if (str(m.firmware)) parts.push(`v${str(m.firmware)}`);
  if (str(m.lang)) parts.push(str(m.lang)!);
  if (typeof m.volume === 'number') parts.push(`vol ${m.volume}`);
  return parts.join(' ');
}

function describeResult(m: Record<string, unknown>): string {
  const name = str(m.command) ?? '(unknown command)';
  if (m.ok !== true)
    return `${name} refused${m.reason ? ` (${str(m.reason)})` : ''}: ${str(m.error) ?? 'no error given'}`;
  const parts = [typeof m.volume === 'number' ? `volume ${m.volume}/10` : null, str(m.text) && `said "${str(m.text)}"`];
  return `${name} ok${parts.some(Boolean) ? `: ${parts.filter(Boolean).join(', ')}` : ''}`;
}

function describeTelemetry(m: Record<string, unknown>): string {
  const n = (k: string) => (typeof m[k] === 'number' ? (m[k] as number) : null);
  const uptime = n('uptimeMs');
  return [
    n('battery') === null ? null : `battery ${n('battery')}%`,
    n('signalDbm') === null ? null : `signal ${n('signalDbm')} dBm`,
    n('queue') === null ? null : `queue ${n('queue')}`,
    uptime === null ? null : `up ${Math.round(uptime / 60_000)} min`,
  ]
    .filter(Boolean)
    .join(', ');
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
