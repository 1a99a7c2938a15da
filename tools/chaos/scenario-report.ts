/**
 * The chaos run's verdict, beside the audio audit (audit.ts): the statuses counted, every payment
 * that did not end played looked up and grouped by speaker and cause, and whether the run was
 * clean (every payment final, none rejected, expired or summarized, each announced exactly once).
 */
import { zeroCounts } from '../../broker/outbox/status.ts';
import type { NotificationApi, PaymentStatus } from '../api/client.ts';
import type { ChaosReport, UnplayedCause, UnplayedExample } from './scenario-types.ts';

/** How many unplayed payments the report shows in full, with their history. */
const UNPLAYED_EXAMPLES = 5;

/** Looks up every payment that did not end `played` and groups them by speaker and cause. */
export async function explainUnplayed(
  api: NotificationApi,
  statuses: Map<string, PaymentStatus>,
): Promise<ChaosReport['unplayed']> {
  const ids = [...statuses].filter(([, s]) => s !== 'played').map(([id]) => id);
  const causes = new Map<string, UnplayedCause>();
  const examples: UnplayedExample[] = [];
  for (let i = 0; i < ids.length; i += 50) {
    const views = await Promise.all(ids.slice(i, i + 50).map((id) => api.getPayment(id).catch(() => null)));
    for (const view of views) {
      if (!view) continue;
      const { device, status, reason = null } = view.payment;
      const key = `${device} ${status} ${reason}`;
      const cause = causes.get(key) ?? { device, status, reason, count: 0 };
      cause.count += 1;
      causes.set(key, cause);
      if (examples.length < UNPLAYED_EXAMPLES) examples.push(view);
    }
  }
  return { causes: [...causes.values()].sort((a, b) => b.count - a.count), examples };
}

export function countStatuses(statuses: Map<string, PaymentStatus>): Record<PaymentStatus, number> {
  const counts = zeroCounts();
  for (const s of statuses.values()) counts[s]++;
  return counts;
}

export function isClean(r: ChaosReport): boolean {
  const s = r.statuses;
  const final = s.played + s.duplicate + s.summarized + s.rejected + s.expired;
  return (
    final === r.payments &&
    s.rejected === 0 &&
    s.expired === 0 &&
    s.summarized === 0 &&
    r.audio.twice === 0 &&
    r.audio.missing === 0 &&
    r.audio.unexpected === 0
  );
}
