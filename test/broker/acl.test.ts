/** The ACL as a table: every row is (who, action, topic) → allowed or refused. */
import { describe, expect, it } from 'vitest';
import { canPublish, canSetWill, canSubscribe, type Principal } from '../../broker/acl.ts';

const me: Principal = { role: 'device', id: 'SPK-0001' };
const backend: Principal = { role: 'backend' };
const own = (leaf: string) => `payspeaker/v1/devices/SPK-0001/${leaf}`;
const other = (leaf: string) => `payspeaker/v1/devices/SPK-0002/${leaf}`;

type Row = [
  who: Principal,
  action: 'publish' | 'publish retained' | 'subscribe' | 'will',
  topic: string,
  allowed: boolean,
];

const table: Row[] = [
  // A device listens to its own notifications and commands, nothing else.
  [me, 'subscribe', own('notify'), true],
  [me, 'subscribe', own('cmd'), true],
  [me, 'subscribe', own('ack'), false],
  [me, 'subscribe', own('state'), false],
  [me, 'subscribe', own('cmd/result'), false],
  [me, 'subscribe', other('notify'), false],
  [me, 'subscribe', other('cmd'), false],
  [me, 'subscribe', 'payspeaker/v1/devices/+/notify', false],
  [me, 'subscribe', 'payspeaker/v1/devices/SPK-0001/#', false],
  [me, 'subscribe', '#', false],
  [me, 'subscribe', '$SYS/#', false],
  [me, 'subscribe', 'elsewhere/topic', false],
  // A device speaks only for itself, and never as the backend.
  [me, 'publish', own('ack'), true],
  [me, 'publish', own('state'), true],
  [me, 'publish', own('telemetry'), true],
  [me, 'publish', own('cmd/result'), true],
  [me, 'publish', own('notify'), false],
  [me, 'publish', own('cmd'), false],
  [me, 'publish', other('notify'), false],
  [me, 'publish', other('ack'), false],
  [me, 'publish', other('state'), false],
  [me, 'publish', own('unknown'), false],
  [me, 'publish', '$SYS/broker/x', false],
  [me, 'publish', 'payspeaker/v2/devices/SPK-0001/ack', false],
  // Only a device's own state is retained: a retained ack, telemetry or command result would be
  // handed to every later subscriber as if it were new.
  [me, 'publish retained', own('state'), true],
  [me, 'publish retained', own('ack'), false],
  [me, 'publish retained', own('telemetry'), false],
  [me, 'publish retained', own('cmd/result'), false],
  [me, 'publish retained', other('state'), false],
  [backend, 'publish retained', own('notify'), false],
  [backend, 'publish retained', own('cmd'), false],
  // A device's will is its own offline state, nothing else.
  [me, 'will', own('state'), true],
  [me, 'will', other('state'), false],
  [me, 'will', own('ack'), false],
  // Only the backend sends notifications and commands; it listens to what devices send.
  [backend, 'publish', own('notify'), true],
  [backend, 'publish', other('cmd'), true],
  [backend, 'publish', own('ack'), false],
  [backend, 'publish', own('state'), false],
  [backend, 'publish', 'elsewhere', false],
  [backend, 'subscribe', 'payspeaker/v1/devices/+/ack', true],
  [backend, 'subscribe', 'payspeaker/v1/devices/+/state', true],
  [backend, 'subscribe', 'payspeaker/v1/devices/+/telemetry', true],
  [backend, 'subscribe', 'payspeaker/v1/devices/+/cmd/result', true],
  [backend, 'subscribe', own('ack'), true],
  [backend, 'subscribe', own('cmd/result'), true],
  [backend, 'subscribe', 'payspeaker/v1/devices/+/notify', false],
  [backend, 'subscribe', own('cmd'), false],
  [backend, 'subscribe', 'payspeaker/v1/devices/#', false],
  [backend, 'subscribe', 'payspeaker/v1/devices/+/+', false],
  [backend, 'subscribe', '#', false],
  [backend, 'subscribe', '$SYS/#', false],
  [backend, 'will', own('state'), false],
  // Time from the broker: a device asks on its own time/req and hears the answer on its own time;
  // only the backend answers, nobody retains either (an old answer is worthless, a planted one harmful).
  [me, 'publish', own('time/req'), true],
  [me, 'publish retained', own('time/req'), false],
  [me, 'publish', other('time/req'), false],
  [me, 'publish', own('time'), false],
  [me, 'publish', other('time'), false],
  [me, 'subscribe', own('time'), true],
  [me, 'subscribe', other('time'), false],
  [me, 'subscribe', own('time/req'), false],
  [me, 'subscribe', other('time/req'), false],
  [me, 'subscribe', 'payspeaker/v1/devices/+/time', false],
  [backend, 'publish', own('time'), true],
  [backend, 'publish retained', own('time'), false],
  [backend, 'publish', own('time/req'), false],
  [backend, 'subscribe', 'payspeaker/v1/devices/+/time/req', true],
  [backend, 'subscribe', 'payspeaker/v1/devices/+/time', false],
];

const check = {
  publish: (p: Principal, topic: string) => canPublish(p, topic),
  'publish retained': (p: Principal, topic: string) => canPublish(p, topic, { retain: true }),
  subscribe: canSubscribe,
  will: canSetWill,
};

describe('ACL', () => {
  it.each(table)('%o %s %s → %s', (who, action, topic, allowed) => {
    const decision = check[action](who, topic);
    expect(decision.allowed).toBe(allowed);
    // A refusal always says why, naming what was asked for, and which rule (the log throttles per rule).
    if (!decision.allowed) expect(decision.reason.length).toBeGreaterThan(10);
    if (!decision.allowed) expect(decision.rule).toMatch(/^[a-z-]+$/);
  });
});
