/**
 * `payspeaker pay 123.45 --device SPK-0001`: hand one test payment to the notification
 * service's HTTP API (as a payment backend would) and wait for its final status; `--direct`
 * publishes it over MQTT instead and waits for the device's ack. The amount is parsed from its
 * decimal text into minor units, never via a float.
 */
import fs from 'node:fs';
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
import { PaymentPublisher, AckTimeoutError } from '../../publisher/publisher.ts';
import { newPaymentId } from '../../../src/protocol/payment-ids.ts';
import {
  BrokerCertificateError,
  BrokerRefusedError,
  BrokerUnreachableError,
  connectOnce,
  endClient,
  isTlsUrl,
  tlsClientOptions,
} from '../../../src/mqtt/connect.ts';
import { tlsFiles } from '../../../broker/tls.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { parseDuration } from '../duration.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { backendFromDataDir } from '../backend.ts';
import type { Credentials } from '../../../broker/credentials.ts';
import { readBackendCredentials } from '../../../broker/credentials.ts';
import { DEFAULT_HTTP_PORT } from '../../../broker/service.ts';
import {
  ApiRequestError,
  ApiUnreachableError,
  FINAL_STATUSES,
  NotificationApi,
  type PaymentView,
} from '../../api/client.ts';

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

export function payCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new Command('pay')
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
    .option(
      '--ca <file>',
      "for mqtts:// and wss://: the CA (PEM) the broker's certificate must be signed by (default: DIR/certs/ca.pem if it exists, else the system's CAs)",
    )
    .option(
      '--insecure',
      'no credentials: call an --insecure broker; with --direct, send the payment unsigned if there is no backend key',
    )
    .addOption(commonOptions.json());
  return addDataOption(cmd, s).action(async (amount: string, flags: PayFlags) => {
    const timeoutMs = parseDuration(flags.timeout, '--timeout');
    if (!flags.direct) return payThroughApi(ctx, buildNotification(amount, flags), flags, timeoutMs);
    const unsigned = buildNotification(amount, flags);
    const backend = backendFromDataDir(resolveDataDir(flags), { insecure: Boolean(flags.insecure), needsKey: true });
    const notification = backend.sign(unsigned);
    const ack = await publishAndWait(notification, flags.broker, timeoutMs, backend.credentials, brokerCa(flags));
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

/** The CA to check the broker's certificate against: --ca, else the data directory's development CA, else none (system CAs). */
function brokerCa(flags: PayFlags): { pem: string; file: string } | null {
  if (!isTlsUrl(flags.broker)) return null;
  const file = flags.ca ?? tlsFiles(resolveDataDir(flags)).ca;
  try {
    return { pem: fs.readFileSync(file, 'utf8'), file };
  } catch (err) {
    if (flags.ca === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError(
      `--ca ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}: pass the broker's DIR/certs/ca.pem`,
    );
  }
}

async function publishAndWait(
  notification: Notification,
  brokerUrl: string,
  timeoutMs: number,
  credentials: Credentials | null,
  ca: { pem: string; file: string } | null,
): Promise<Ack> {
  let client;
  try {
    const opts = {
      clientId: `backend-pay-${notification.id}`,
      ...(credentials ?? {}),
      ...tlsClientOptions(brokerUrl, ca?.pem),
    };
    client = await connectOnce(brokerUrl, opts, undefined, ca?.file);
  } catch (err) {
    if (err instanceof BrokerUnreachableError) throw new CliError(err.message, EXIT.UNREACHABLE);
    if (err instanceof BrokerCertificateError) throw new CliError(err.message, EXIT.UNREACHABLE);
    if (err instanceof BrokerRefusedError) throw new CliError(err.message, EXIT.REFUSED);
    throw err;
  }
  try {
    return await new PaymentPublisher(client).send(notification, timeoutMs);
  } catch (err) {
    if (err instanceof AckTimeoutError) throw new CliError(err.message, EXIT.TIMEOUT);
    throw err;
  } finally {
    await endClient(client);
  }
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
    payment = (await api.waitFinal(created.payment.id, timeoutMs)).payment;
  } catch (err) {
    throw apiCliError(err, flags);
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
    throw new CliError(
      `no final ack for ${payment.id} within ${flags.timeout}; it is ${payment.status} and the service keeps retrying until ${new Date(payment.expiresAt).toISOString()}`,
      EXIT.TIMEOUT,
    );
  }
}

function apiCliError(err: unknown, flags: PayFlags): Error {
  if (err instanceof ApiUnreachableError) return new CliError(err.message, EXIT.UNREACHABLE);
  if (!(err instanceof ApiRequestError)) return err as Error;
  if (err.status === 401) {
    const hint = flags.insecure
      ? 'the broker is not --insecure: drop --insecure and point --data at its data directory'
      : `point --data at the broker's data directory (it holds broker/backend.json)`;
    return new CliError(`the notification API refused us: ${err.message}; ${hint}`, EXIT.REFUSED);
  }
  return new CliError(
    `the notification API refused the payment (HTTP ${err.status}, ${err.code}): ${err.message}`,
    err.status < 500 ? EXIT.USAGE : EXIT.FAILURE,
  );
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
