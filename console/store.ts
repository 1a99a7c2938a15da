/**
 * The page's pure bookkeeping, kept apart from the components so it is tested in Node
 * (test/console/store.test.ts): merging live updates into the lists, reading the amount the
 * user typed, and the small formatting rules the lists share.
 */
import { formatAmount, isKnownCurrency, parseAmount } from '../src/protocol/money.ts';
import { isDeviceId } from '../src/protocol/topics.ts';
import type { Device, Payment } from './api.ts';

/** How many payments the list keeps: the API's first page plus what arrived since, bounded. */
export const MAX_PAYMENTS = 200;

/**
 * Puts a payment into the newest-first list: an update replaces the row it updates (unless it
 * is older than what the row shows: events and a reload may cross), a new one goes in by
 * creation time.
 */
export function mergePayment(list: readonly Payment[], p: Payment): Payment[] {
  const i = list.findIndex((x) => x.id === p.id);
  if (i >= 0) {
    const old = list[i]!;
    if (p.updatedAt < old.updatedAt) return list as Payment[];
    const next = list.slice();
    // Keep a history already fetched when the update carries none.
    next[i] = { ...old, ...p, history: p.history ?? old.history };
    return next;
  }
  const next = list.slice();
  let at = next.findIndex((x) => x.createdAt < p.createdAt);
  if (at < 0) at = next.length;
  next.splice(at, 0, p);
  return next.slice(0, MAX_PAYMENTS);
}

/** Merges a full list (a reload) with what is already shown, newest first. */
export function mergePayments(list: readonly Payment[], fresh: readonly Payment[]): Payment[] {
  return fresh.reduce<Payment[]>((acc, p) => mergePayment(acc, p), list.slice());
}

/** An update to one device: fields it carries replace, fields it lacks stay as they were. */
export function mergeDevice(list: readonly Device[], d: Device): Device[] {
  const i = list.findIndex((x) => x.id === d.id);
  const next = list.slice();
  if (i >= 0) next[i] = { ...list[i]!, ...d };
  else next.push(d);
  return next.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * What the device said about itself (its retained state message: firmware, language, volume),
 * each null when it never said; the broker passes it on as received, so types are checked here.
 */
export function reportedOf(d: Device): { firmware: string | null; lang: string | null; volume: number | null } {
  const s = d.state && typeof d.state === 'object' ? d.state : null;
  return {
    firmware: typeof s?.firmware === 'string' ? s.firmware : null,
    lang: typeof s?.lang === 'string' ? s.lang : null,
    volume: typeof s?.volume === 'number' && Number.isFinite(s.volume) ? s.volume : null,
  };
}

export type AmountResult = { ok: true; minor: number } | { ok: false; message: string };

/**
 * "123.45" in CNY → 12345 minor units, through the kernel's digit-by-digit parser (never a
 * float: 19.99 × 100 is 1998.9999999999998). Commas as decimal marks are accepted ("12,50"),
 * since half the world types them; thousands separators are not, as the kernel refuses them.
 */
export function amountToMinor(text: string, currency: string): AmountResult {
  const code = currency.trim().toUpperCase();
  if (!isKnownCurrency(code))
    return {
      ok: false,
      message: `currency ${JSON.stringify(currency)} is not an ISO 4217 code: use one such as CNY, INR or USD`,
    };
  const t = text.trim();
  const normalised = /^\d+,\d+$/.test(t) ? t.replace(',', '.') : t;
  try {
    return { ok: true, minor: parseAmount(normalised, code) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** 12345 CNY → "123.45 CNY"; a code the kernel does not know is shown raw rather than guessed. */
export function formatMoney(amount: number, currency: string): string {
  if (!isKnownCurrency(currency)) return `${amount} (minor units) ${currency}`;
  return `${formatAmount({ amount, currency })} ${currency}`;
}

/** A fresh idempotency key. getRandomValues, not randomUUID: the latter needs a secure context (https or localhost). */
export function newIdempotencyKey(random: (a: Uint8Array) => Uint8Array = (a) => crypto.getRandomValues(a)): string {
  const bytes = random(new Uint8Array(8));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** A time the way the lists show it: the clock time today, the date before that. */
export function formatTime(at: number | null | undefined, now = Date.now()): string {
  if (at == null) return '—';
  const d = new Date(at);
  const sameDay = new Date(now).toDateString() === d.toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

/** What the `?speaker=` deep link asks for: one or more ids, in order, without repeats or junk. */
export function speakersFromQuery(search: string): string[] {
  const ids = new URLSearchParams(search)
    .getAll('speaker')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => isDeviceId(v));
  return [...new Set(ids)];
}
