/**
 * What the speakers actually said: counts each payment's announcements in the WAV files the
 * file sink wrote (one per announcement, named `<time>-<payment id>.wav`), and compares them
 * with the statuses the service reported.
 */
import fs from 'node:fs';
import type { PaymentStatus } from '../api/client.ts';

export interface AnnouncementAudit {
  /** Payments announced exactly once. */
  once: number;
  /** Payments announced more than once: the failure that matters most to a merchant. */
  twice: number;
  /** Payments reported played (or duplicate: "already played") with no announcement. */
  missing: number;
  /** Announcements of payments this run did not make. */
  unexpected: number;
  /** Up to ten of the problems, for the report. */
  problems: string[];
}

const WAV_NAME = /^\d{4}-\d\d-\d\dT\d{6}\.\d{3}Z-(PAY-[A-Za-z0-9._-]+)\.wav$/;

export function auditAnnouncements(
  dirs: string[],
  ids: string[],
  statuses: Map<string, PaymentStatus>,
): AnnouncementAudit {
  const spoken = new Map<string, number>();
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      const id = WAV_NAME.exec(name)?.[1];
      if (id) spoken.set(id, (spoken.get(id) ?? 0) + 1);
    }
  }
  const audit: AnnouncementAudit = { once: 0, twice: 0, missing: 0, unexpected: 0, problems: [] };
  const note = (problem: string) => audit.problems.length < 10 && audit.problems.push(problem);
  const known = new Set(ids);
  for (const id of ids) {
    const n = spoken.get(id) ?? 0;
    const status = statuses.get(id);
    if (n === 1) audit.once++;
    if (n > 1) {
      audit.twice++;
      note(`${id} announced ${n} times`);
    }
    if (n === 0 && (status === 'played' || status === 'duplicate')) {
      audit.missing++;
      note(`${id} is ${status} but was never announced`);
    }
  }
  for (const [id, n] of spoken) {
    if (known.has(id)) continue;
    audit.unexpected += n;
    note(`${id} announced but not a payment of this run`);
  }
  return audit;
}
