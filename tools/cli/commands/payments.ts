/**
 * `payspeaker payments [ID]`: look payments up through the notification API (GET /v1/payments,
 * GET /v1/payments/:id) instead of curl plus a token from backend.json. Without an id, a table
 * of the newest; with one, that payment's whole history and its last failure detail, which is
 * where a stuck payment says why (an `audio-failed` ack, a speaker that never PUBACKed).
 */
import { Command, Option } from 'commander';
import { formatAmount, isDeviceId } from '../../../src/protocol/index.ts';
import { PAYMENT_STATUSES, type PaymentStatus } from '../../../src/api/types.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { parseDuration } from '../duration.ts';
import { parseCount } from '../options.ts';
import { parseApiUrl } from '../url-option.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { readBackendCredentials } from '../../../broker/credentials.ts';
import { DEFAULT_HTTP_PORT } from '../../../broker/service.ts';
import { ApiRequestError, NotificationApi, type PaymentHistoryEntry, type PaymentView } from '../../api/client.ts';
import { apiCliError } from '../api-errors.ts';

interface PaymentsFlags extends DataFlags {
  device?: string;
  status?: PaymentStatus;
  since?: string;
  limit: number;
  api: string;
  insecure?: boolean;
  json?: boolean;
}

/** GET /v1/payments answers at most this many; filters are applied to that window. */
const API_MAX_LIMIT = 500;

export function paymentsCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new Command('payments')
    .description('look payments up through the notification API: the newest, or one with its history')
    .argument('[payment-id]', 'show this payment with its full history (e.g. PAY-MWV1VE0Q-5CCE2C48D3)')
    .option('--device <device-id>', "only this speaker's payments")
    .addOption(new Option('--status <status>', 'only payments in this status').choices(PAYMENT_STATUSES))
    .option('--since <duration>', 'only payments created within this long, e.g. 10m, 1h')
    .option('--limit <n>', 'how many to list, newest first', parseCount('--limit'), 20)
    .addOption(
      new Option('--api <url>', 'the notification API (npx payspeaker broker serves it)')
        .argParser(parseApiUrl())
        .env('PAYSPEAKER_API')
        .default(s.api ?? `http://127.0.0.1:${DEFAULT_HTTP_PORT}`),
    )
    .option('--insecure', 'send no token: for a broker started with --insecure')
    .addOption(commonOptions.json())
    .addHelpText(
      'after',
      `
--status and --since filter the newest ${API_MAX_LIMIT} payments (of --device, if given).

Examples:
  npx payspeaker payments                          the newest 20: id, device, amount, status, created, last news
  npx payspeaker payments --device SPK-0001 --status queued --since 1h
  npx payspeaker payments PAY-MWV1VE0Q-5CCE2C48D3  one payment, its history and why it is stuck
  npx payspeaker payments --json | jq .status      one JSON object per payment`,
    );
  return addDataOption(cmd, s).action(async (id: string | undefined, flags: PaymentsFlags) => {
    if (flags.device !== undefined && !isDeviceId(flags.device))
      throw new CliError(
        `--device ${JSON.stringify(flags.device)} is not a valid device id: use letters, digits, "-" or "_" (e.g. SPK-0001)`,
      );
    const sinceMs = flags.since === undefined ? null : parseDuration(flags.since, '--since');
    const token = flags.insecure ? null : (readBackendCredentials(resolveDataDir(flags))?.password ?? null);
    const api = new NotificationApi(flags.api, token);
    try {
      if (id !== undefined) return await showOne(ctx, api, id, flags);
      await showList(ctx, api, flags, sinceMs);
    } catch (err) {
      throw apiCliError(err, { insecure: flags.insecure, what: 'answered' });
    }
  });
}

async function showOne(ctx: CliContext, api: NotificationApi, id: string, flags: PaymentsFlags): Promise<void> {
  let found;
  try {
    found = await api.getPayment(id);
  } catch (err) {
    // The README's table has no code of its own for "no such thing": an unknown id is bad input (2).
    if (err instanceof ApiRequestError && err.status === 404)
      throw new CliError(
        `no payment ${JSON.stringify(id)} at ${flags.api}: list the newest with "payspeaker payments"`,
        EXIT.USAGE,
      );
    throw err;
  }
  if (flags.json) return ctx.print(JSON.stringify(found.payment));
  for (const line of describePayment(found.payment, found.history)) ctx.print(line);
}

async function showList(ctx: CliContext, api: NotificationApi, flags: PaymentsFlags, sinceMs: number | null) {
  const filtering = flags.status !== undefined || sinceMs !== null;
  // The API filters by device only: for the other filters read its whole window, then cut.
  const fetched = await api.listPayments({
    limit: filtering ? API_MAX_LIMIT : Math.min(flags.limit, API_MAX_LIMIT),
    device: flags.device,
  });
  const after = sinceMs === null ? -Infinity : Date.now() - sinceMs;
  const shown = fetched
    .filter((p) => (flags.status === undefined || p.status === flags.status) && p.createdAt >= after)
    .slice(0, flags.limit);
  if (flags.json) {
    for (const p of shown) ctx.print(JSON.stringify(p));
    return;
  }
  if (shown.length === 0) {
    const what = [flags.device, flags.status, flags.since && `since ${flags.since} ago`].filter(Boolean).join(', ');
    process.stderr.write(`no payments${what ? ` (${what})` : ''} at ${flags.api}\n`);
    return;
  }
  for (const line of table(shown)) ctx.print(line);
  if (filtering && fetched.length === API_MAX_LIMIT && shown.length < flags.limit)
    process.stderr.write(`(filters looked at the newest ${API_MAX_LIMIT} payments only)\n`);
}

function table(payments: (PaymentView & { history: PaymentHistoryEntry[] })[]): string[] {
  const rows = payments.map((p) => [
    p.id,
    p.device,
    money(p),
    p.status,
    localTime(p.createdAt, true),
    clipText(lastNews(p.history), 72),
  ]);
  const head = ['ID', 'DEVICE', 'AMOUNT', 'STATUS', 'CREATED', 'LAST'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // The amount column is right-aligned so the decimal points line up (for one currency).
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

/** One payment for a person: what it is, where it stands, each step of its history, why it is stuck. */
export function describePayment(p: PaymentView, history: PaymentHistoryEntry[]): string[] {
  const out = [
    `${p.id}  ${money(p)} ${p.channel}${p.kind === 'refund' ? ' refund' : ''} → ${p.device}`,
    `status   ${p.status}${p.attempts > 0 ? ` after ${p.attempts} attempt${p.attempts === 1 ? '' : 's'}` : ''}`,
    `created  ${localTime(p.createdAt, true)}${p.idempotencyKey ? `  (idempotency key ${p.idempotencyKey})` : ''}`,
  ];
  if (p.finishedAt !== null) out.push(`finished ${localTime(p.finishedAt, true)}`);
  else out.push(`expires  ${localTime(p.expiresAt, true)} (the service retries until then)`);
  if (p.text) out.push(`said     ${p.text}`);
  out.push('history');
  for (const e of history)
    out.push(`  ${localTime(e.at, false)}  ${e.event.padEnd(11)} ${e.status.padEnd(10)} ${e.detail ?? ''}`.trimEnd());
  const failure = lastFailure(p, history);
  if (failure) out.push(`last failure: ${failure}`);
  return out;
}

/** The device's or the service's last word against this payment, if any. */
export function lastFailure(p: PaymentView, history: PaymentHistoryEntry[]): string | null {
  if (p.status === 'rejected') return `${p.device} rejected it: ${p.reason}: ${p.detail}`;
  const failed = newest(history, (e) => e.event === 'retrying' || e.event === 'expired');
  if (!failed) return null;
  return failed.event === 'expired'
    ? `expired at ${localTime(failed.at, false)} without a final ack from ${p.device}`
    : `${localTime(failed.at, false)} ${failed.detail ?? `${p.device} could not play it; retrying`}`;
}

/** What the API knows of a device's connection (GET /v1/devices/:id), for whyStuck. */
export interface DeviceLink {
  online: boolean;
  lastSeen: number | null;
}

/**
 * Why a payment has no final status yet, in one line: the speaker's last refusal to play it (an
 * `audio-failed` ack carries the device's own words), and where delivery stands — never
 * PUBACKed, the speaker offline, or stored on it and not yet announced.
 */
export function whyStuck(p: PaymentView, history: PaymentHistoryEntry[], device: DeviceLink | null): string {
  const parts: string[] = [];
  const retry = newest(history, (e) => e.event === 'retrying');
  if (retry) {
    // The outbox words it "device could not play it (<the ack's detail>); retrying".
    const inner = /^device could not play it \((.*)\); retrying$/s.exec(retry.detail ?? '')?.[1] ?? retry.detail;
    parts.push(`${p.device} acked rejected: audio-failed at ${localTime(retry.at, false)}: ${inner ?? 'no detail'}`);
  }
  // What happened since the speaker's last refusal (or since the start): its PUBACK of that same
  // copy can be recorded after the ack itself, and says nothing new.
  const since = retry ? history.slice(history.lastIndexOf(retry) + 1) : history;
  const last = since.filter((e) => !(retry && e.event === 'delivered')).at(-1);
  const link =
    device === null
      ? null
      : device.online
        ? `${p.device} is online`
        : `${p.device} is offline${device.lastSeen === null ? '' : ` (last seen ${localTime(device.lastSeen, true)})`}`;
  if (last?.event === 'delivered') {
    parts.push(
      `${p.device} stored it at ${localTime(last.at, false)} (PUBACK) but has not acked it yet: it may still be announcing a queue`,
    );
  } else if (last?.event === 'republished' || last?.event === 'accepted') {
    const attempt = last.event === 'accepted' ? 1 : Number(/attempt (\d+)/.exec(last.detail ?? '')?.[1] ?? p.attempts);
    parts.push(
      `last delivery attempt ${attempt} at ${localTime(last.at, false)}: ${link ?? `${p.device} has not PUBACKed it`}`,
    );
  } else if (link && !retry) parts.push(link);
  return parts.join('; ') || `it is ${p.status}`;
}

/** The newest history entry as a few words: "acked played", "retrying: device could not play it …". */
export function lastNews(history: PaymentHistoryEntry[]): string {
  const e = history.at(-1);
  if (!e) return '';
  const what = e.event === 'acked' ? `acked ${e.status}` : e.event;
  return e.detail ? `${what}: ${e.detail}` : what;
}

export function money(p: { amount: number; currency: string }): string {
  return `${formatAmount(p)} ${p.currency}`;
}

/** Local wall-clock time: "12:03:04.123", or with the date "2026-12-05 12:03:04". */
export function localTime(ms: number, withDate: boolean): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  if (withDate) return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${time}`;
  return `${time}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** The last entry that matches (Array.prototype.findLast is ES2023; the build targets ES2022). */
function newest(history: PaymentHistoryEntry[], match: (e: PaymentHistoryEntry) => boolean) {
  for (let i = history.length - 1; i >= 0; i--) if (match(history[i]!)) return history[i];
  return undefined;
}

function clipText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
