/** The dispatcher's record of copies out and not yet PUBACKed (broker/outbox/in-flight.ts). */
import { describe, expect, it } from 'vitest';
import { InFlight } from '../../broker/outbox/in-flight.ts';

describe('copies in flight', () => {
  it('lets one copy of a payment out at a time, until it times out', () => {
    const f = new InFlight(10, 1000);
    expect(f.take('P1', 'D', 0, true)).toBe('ok');
    expect(f.take('P1', 'D', 999, true)).toBe('already-out');
    expect(f.take('P1', 'D', 1000, true)).toBe('ok'); // taken as lost: another copy may go
    f.release('P1');
    expect(f.take('P1', 'D', 1001, true)).toBe('ok');
  });

  it('fills a device at its maximum, frees a place on a PUBACK, and keeps devices apart', () => {
    const f = new InFlight(2, 30_000);
    expect([f.take('A1', 'A', 0, true), f.take('A2', 'A', 0, true), f.take('A3', 'A', 0, true)]).toEqual([
      'ok',
      'ok',
      'device-full',
    ]);
    expect(f.take('B1', 'B', 0, true)).toBe('ok');
    expect(f.fullDevices(0)).toEqual(['A']);
    f.release('A1');
    expect(f.fullDevices(0)).toEqual([]);
    expect(f.take('A3', 'A', 0, true)).toBe('ok');
  });

  it('counts timed-out copies as gone when a device is full, and forgets a device that went away', () => {
    const f = new InFlight(1, 1000);
    f.take('A1', 'A', 0, true);
    expect(f.isFull('A', 999)).toBe(true);
    expect(f.isFull('A', 1000)).toBe(false);
    f.take('B1', 'B', 0, true);
    f.forget('B');
    expect(f.take('B1', 'B', 1, true)).toBe('ok');
  });

  it('does not track a device that is not connected here', () => {
    const f = new InFlight(1, 1000);
    expect([f.take('A1', 'A', 0, false), f.take('A1', 'A', 0, false)]).toEqual(['ok', 'ok']);
    expect(f.fullDevices(0)).toEqual([]);
  });
});
