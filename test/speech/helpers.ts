/** Builds announcements from readable decimal strings ("123.45") so the test tables read like receipts. */
import type { Channel, Kind } from '../../src/protocol/channels.ts';
import { parseAmount } from '../../src/protocol/money.ts';
import type { Announcement } from '../../src/speech/index.ts';

export function announcement(text: string, currency: string, channel: Channel, kind: Kind): Announcement {
  return { amount: parseAmount(text, currency), currency, channel, kind };
}
