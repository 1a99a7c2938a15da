/**
 * `payspeaker pay 123.45 --device SPK-0001`: hand one test payment to the notification
 * service's HTTP API (as a payment backend would) and wait for its final status; `--direct`
 * publishes it over MQTT instead and waits for the device's ack. The amount is parsed from its
 * decimal text into minor units, never via a float.
 */
import { Command, Option } from 'commander';
import {
  CHANNELS,
  isDeviceId,
  makeNotification,
  MoneyError,
  parseAmount,
  PAYMENT_ID_PATTERN,
  type Ack,
  type Channel,
  type Notification,
} from '../../../src/protocol/index.ts';
import { newPaymentId } from '../../../src/protocol/payment-ids.ts';
import { caOption } from '../broker-connection.ts';
import { payDirect } from '../direct-payment.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { parseDuration } from '../duration.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { backendFromDataDir } from '../backend.ts';
import { readBackendCredentials } from '../../../broker/credentials.ts';
import { DEFAULT_HTTP_PORT } from '../../../broker/service.ts';
import { FINAL_STATUSES, NotificationApi, type PaymentHistoryEntry, type PaymentView } from '../../api/client.ts';
import { whyStuck, type DeviceLink } from './payments.ts';
import { parseApiUrl } from '../url-option.ts';
import { apiCliError } from '../api-errors.ts';

interface PayFlags extends DataFlags {
  insecure?: boolean;
  device?: string;
  currency: string;
  channel: Channel;
  refund?: boolean;
  id?: string;
  broker: string;
  timeout: string;
  ca?: string;
  json?: boolean;
  direct?: boolean;
  api: string;
  idempotencyKey?: string;
}

/**
 * `pay -5` would reach commander as an unknown option "-5" ("error: unknown option '-5'"), which
 * tells a user nothing: an amount that starts with "-" is refused here, as the amount it is.
 */
class AmountCommand extends Command {
  override parseOptions(argv: string[]) {
    const parsed = super.parseOptions(argv);
    const first = parsed.unknown[0];
    if (first !== undefined && /^-\d/.test(first))
      throw new CliError(
        `amount ${first} is negative: amounts are always positive; announce a refund with --refund (pay ${first.slice(1)} --refund)`,
        EXIT.USAGE,
      );
    return parsed;
  }
}

export function payCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new AmountCommand('pay')
    .description("send a test payment to a speaker and print the speaker's ack")
    .argument('<amount>', 'amount in major units as a decimal, e.g. 123.45')
    .addOption(
      new Option('--device <device-id>', 'target speaker, e.g. SPK-0001').env('PAYSPEAKER_DEVICE').default(s.device),
    )
    .addOption(
      new Option('--currency <code>', 'ISO 4217 currency code').env('PAYSPEAKER_CURRENCY').default(s.currency ?? 'CNY'),
    )
    .addOption(
      new Option('--channel <channel>', 'payment channel')
        .choices(CHANNELS)
        .env('PAYSPEAKER_CHANNEL')
        .default(s.channel ?? 'wechat'),
    )
    .option('--refund', 'announce a refund instead of a payment')
    .addOption(
      new Option('--api <url>', 'the notification API (npx payspeaker broker serves it)')
        .argParser(parseApiUrl())
        .env('PAYSPEAKER_API')
        .default(s.api ?? `http://127.0.0.1:${DEFAULT_HTTP_PORT}`),
    )
    .option('--idempotency-key <key>', 'send the same key again to retry without a second payment (API only)')
    .option(
      '--direct',
      'publish the notification over MQTT to --broker instead of going through the API (no outbox, no retries)',
    )
    .option(
      '--id <payment-id>',
      "with --direct: payment id (default: a new unique id); reuse one to test the device's dedupe",
    )
    .addOption(commonOptions.broker(s))
    .addOption(
      new Option('--timeout <duration>', 'how long to wait for the ack')
        .env('PAYSPEAKER_TIMEOUT')
        .default(s.timeout ?? '10s'),
    )
    .addOption(caOption())
    .option(
      '--insecure',
      'no credentials: call an --insecure broker; with --direct, send the payment unsigned if there is no backend key',
    )
    .addOption(commonOptions.json())
    .addHelpText(
      'after',
      `
If the speaker has not given its final answer by --timeout, pay exits 4 and says why, from the
payment's history (e.g. the speaker's audio-failed ack, or that it is offline); the service
keeps retrying, and "payspeaker payments PAY-…" looks it up later.`,
    );
  return addDataOption(cmd, s).action(async (amount: string, flags: PayFlags) => {
    const timeoutMs = parseDuration(flags.timeout, '--timeout');
    if (!flags.direct) return payThroughApi(ctx, buildNotification(amount, flags), flags, timeoutMs);
    const unsigned = buildNotification(amount, flags);
    const backend = backendFromDataDir(resolveDataDir(flags), { insecure: Boolean(flags.insecure), needsKey: true });
    const notification = backend.sign(unsigned);
    const ack = await payDirect(flags, {
      notification,
      credentials: backend.credentials,
      timeoutMs,
      note: (line) => process.stderr.write(`${line}\n`),
    });
    ctx.print(flags.json ? JSON.stringify({ ...ack, latencyMs: ack.at - notification.createdAt }) : describeAck(ack));
    if (ack.status === 'rejected') throw new CliError(`payment ${ack.id} was rejected: ${ack.reason}`, EXIT.REJECTED);
  });
}

function buildNotification(amountText: string, flags: PayFlags): Notification {
  if (!flags.device) throw new CliError('a target device is needed: pass --device SPK-0001 (or set PAYSPEAKER_DEVICE)');
  if (!isDeviceId(flags.device)) {
    throw new CliError(
      `--device ${JSON.stringify(flags.device)} is not a valid device id: use letters, digits, "-" or "_" (e.g. SPK-0001)`,
    );
  }
  if (flags.id !== undefined && !flags.direct) {
    throw new CliError(
      '--id needs --direct: the notification API makes payment ids itself; to retry without paying twice use --idempotency-key',
    );
  }
  if (flags.idempotencyKey !== undefined && flags.direct) {
    throw new CliError(
      '--idempotency-key is for the notification API: with --direct, reuse a payment id with --id instead',
    );
  }
  if (flags.id !== undefined && !PAYMENT_ID_PATTERN.test(flags.id)) {
    throw new CliError(
      `--id ${JSON.stringify(flags.id)} is not a valid payment id: use 1-64 letters, digits, ".", "_", ":" or "-"`,
    );
  }
  const currency = flags.currency.toUpperCase();
  let amount: number;
  try {
    amount = parseAmount(amountText, currency);
  } catch (err) {
    if (err instanceof MoneyError) throw new CliError(err.message);
    throw err;
  }
  const createdAt = Date.now();
  return makeNotification({
    id: flags.id ?? newPaymentId(createdAt),
    device: flags.device,
    amount,
    currency,
    channel: flags.channel,
    kind: flags.refund ? 'refund' : 'payment',
    createdAt,
  });
}

function describeAck(ack: Ack): string {
  switch (ack.status) {
    case 'played':
      return `played on ${ack.device}: ${ack.text} (${ack.id})`;
    case 'duplicate':
      return `duplicate: ${ack.device} already announced ${ack.id}; not spoken again`;
    case 'summarized':
      return `summarized: ${ack.device} included ${ack.id} in a summary announcement`;
    case 'rejected':
      return `rejected by ${ack.device}: ${ack.reason}: ${ack.detail}`;
  }
}

/** Posts the payment to the notification API and follows it to a final status (or the timeout). */
async function payThroughApi(ctx: CliContext, n: Notification, flags: PayFlags, timeoutMs: number): Promise<void> {
  const token = flags.insecure ? null : (readBackendCredentials(resolveDataDir(flags))?.password ?? null);
  const api = new NotificationApi(flags.api, token);
  let payment: PaymentView;
  let history: PaymentHistoryEntry[];
  try {
    const body = {
      device: n.device,
      amount: n.amount,
      currency: n.currency,
      channel: n.channel,
      kind: n.kind,
      ...(flags.idempotencyKey && { idempotencyKey: flags.idempotencyKey }),
    };
    const created = await api.createPayment(body);
    ({ payment, history } = await api.waitFinal(created.payment.id, timeoutMs));
  } catch (err) {
    throw apiCliError(err, { insecure: flags.insecure, what: 'refused the payment' });
  }
  if (flags.json)
    ctx.print(
      JSON.stringify({
        ...payment,
        latencyMs: payment.finishedAt === null ? null : payment.finishedAt - payment.createdAt,
      }),
    );
  else if (FINAL_STATUSES.has(payment.status)) ctx.print(describePayment(payment));
  if (payment.status === 'rejected')
    throw new CliError(`payment ${payment.id} was rejected: ${payment.reason}`, EXIT.REJECTED);
  if (payment.status === 'expired')
    throw new CliError(`payment ${payment.id} expired without a final ack from ${payment.device}`, EXIT.TIMEOUT);
  if (!FINAL_STATUSES.has(payment.status)) {
    const why = whyStuck(payment, history, await deviceLink(api, payment.device));
    throw new CliError(
      `no final ack for ${payment.id} within ${formatDuration(timeoutMs)}; it is ${payment.status} and the service keeps retrying until ${new Date(payment.expiresAt).toISOString()}\n` +
        `  why: ${why}\n` +
        `  look it up later: npx payspeaker payments ${payment.id}`,
      EXIT.TIMEOUT,
    );
  }
}

/** Whether the speaker is connected, for the timeout's "why"; null if the API cannot say. */
async function deviceLink(api: NotificationApi, id: string): Promise<DeviceLink | null> {
  try {
    const d = await api.device(id);
    return { online: d.online === true, lastSeen: typeof d.lastSeen === 'number' ? d.lastSeen : null };
  } catch {
    // An --insecure broker may never have seen the device: the history alone has to do.
    return null;
  }
}

/** "2 s", "500 ms", "1.5 min": a duration as the user reads it, with its unit. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(3)} s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(2)} min`;
  return `${+(ms / 3_600_000).toFixed(2)} h`;
}

function describePayment(p: PaymentView): string {
  switch (p.status) {
    case 'played':
      return `played on ${p.device}: ${p.text} (${p.id}, ${p.attempts} attempt${p.attempts > 1 ? 's' : ''})`;
    case 'duplicate':
      return `duplicate: ${p.device} had already announced ${p.id}; not spoken again`;
    case 'summarized':
      return `summarized: ${p.device} included ${p.id} in a summary announcement`;
    case 'rejected':
      return `rejected by ${p.device}: ${p.reason}: ${p.detail}`;
    case 'expired':
      return `expired: ${p.device} gave no final ack for ${p.id} within its time-to-live`;
    default:
      return `${p.id} is ${p.status}`;
  }
}
