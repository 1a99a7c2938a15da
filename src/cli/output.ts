/** How speaker events look on a terminal; with --json they are printed as they are. */
import type { SpeakerEvent } from '../../device/events.ts';
import { formatAmount } from '../protocol/index.ts';

export function describeEvent(e: SpeakerEvent): string {
  switch (e.event) {
    case 'online':
      return `[${e.device}] online (${e.broker})`;
    case 'offline':
      return `[${e.device}] offline: lost the broker at ${e.broker}, reconnecting`;
    case 'announced': {
      const where = e.file ? `, ${e.file}` : '';
      return `[${e.device}] 🔊 ${e.text}  (${formatAmount(e)} ${e.currency}, ${e.id}${where})`;
    }
    case 'duplicate':
      return `[${e.device}] duplicate ${e.id}: already announced, not spoken again`;
    case 'rejected':
      return `[${e.device}] rejected ${e.id ?? '(no id)'}: ${e.reason}: ${e.detail}`;
  }
}

export function eventLine(e: SpeakerEvent, json: boolean): string {
  return json ? JSON.stringify(e) : describeEvent(e);
}
