/** Payment ids the backend side mints: sortable by time, unique without coordination. */
import { randomBytes } from 'node:crypto';

export function newPaymentId(now: number = Date.now()): string {
  return `PAY-${now.toString(36).toUpperCase()}-${randomBytes(5).toString('hex').toUpperCase()}`;
}
