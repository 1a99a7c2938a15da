/** How speaker events look on a terminal; with --json they are printed as they are. */
import type { SpeakerEvent } from '../../device/events.ts';
import { formatAmount } from '../../src/protocol/index.ts';

/** A line for a person, or null for events a terminal does not need (the panel shows the state). */
export function describeEvent(e: SpeakerEvent): string | null {
  const who = `[${e.device}]`;
  switch (e.event) {
    case 'state':
      return null;
    case 'online':
      return `${who} online (${e.broker})`;
    case 'offline':
      return `${who} offline: lost the broker at ${e.broker}, reconnecting`;
    case 'announced': {
      const where = e.file ? `, ${e.file}` : '';
      return `${who} 🔊 ${e.text}  (${formatAmount(e)} ${e.currency}, ${e.id}${where})`;
    }
    case 'summarized':
      return `${who} 🔊 ${e.text}  (${e.count} ${e.scope} payments summarized)`;
    case 'spoke':
      return `${who} 🔊 ${e.text}`;
    case 'volume':
      return `${who} volume ${e.volume}/10`;
    case 'duplicate':
      return `${who} duplicate ${e.id}: already announced, not spoken again`;
    case 'rejected':
      return `${who} rejected ${e.id ?? '(no id)'}: ${e.reason}: ${e.detail}`;
    case 'command':
      return `${who} command ${e.command ?? '(unknown)'} ${e.ok ? 'done' : `failed: ${e.error}`}`;
  }
}

export function eventLine(e: SpeakerEvent, json: boolean): string | null {
  return json ? JSON.stringify(e) : describeEvent(e);
}
