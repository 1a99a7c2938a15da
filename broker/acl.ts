/**
 * Who may publish and subscribe where: pure functions of (principal, topic), so the whole
 * policy reads — and is tested — as a table. The aedes hooks in auth.ts only apply them.
 *
 *   device X  subscribes  devices/X/notify, devices/X/cmd, devices/X/time  (no wildcards)
 *             publishes   devices/X/ack, state, telemetry, cmd/result, time/req   (its will: devices/X/state)
 *   backend   subscribes  devices/{+|id}/ack, state, telemetry, cmd/result, time/req
 *             publishes   devices/{id}/notify, cmd, time                    (nobody else may)
 *
 * The broker's own time answers (clock-service.ts) go out through aedes.publish, which no
 * authorizePublish sees; their delivery is still checked (canReceive: a device's own `time`).
 *
 * Only a device's own state is ever retained (its will is the offline state): a retained ack,
 * telemetry, command result, notification or command would be handed to every later
 * subscriber as if it had just been sent. Everything else is refused, including `$SYS/…` and
 * topics outside payspeaker/v1.
 */
import { isDeviceId, parseDeviceTopic, topics, TOPIC_ROOT } from '../src/protocol/index.ts';

export type Principal = { role: 'device'; id: string } | { role: 'backend' };

/**
 * `rule` names which rule refused, without the topic in it: the broker throttles its log per
 * client and rule (broker/log-throttle.ts), so a thousand refused filters make one line.
 */
export type Decision = { allowed: true } | { allowed: false; rule: Rule; reason: string };

export type Rule =
  | 'not-a-device-topic'
  | 'wildcard'
  | 'another-device'
  | 'backend-only'
  | 'wrong-leaf'
  | 'retained'
  | 'will'
  | 'not-authenticated';

/** What a device sends; the backend listens to these. */
const DEVICE_PUBLISHES = new Set(['ack', 'state', 'telemetry', 'cmd/result', 'time/req']);
/** What the backend sends; a device listens to these, its own only. */
const BACKEND_PUBLISHES = new Set(['notify', 'cmd', 'time']);

const ALLOW: Decision = { allowed: true };
const deny = (rule: Rule, reason: string): Decision => ({ allowed: false, rule, reason });

export function describePrincipal(p: Principal): string {
  return p.role === 'device' ? `device ${p.id}` : 'the backend';
}

export interface PublishOptions {
  /** The PUBLISH has its retain flag set. */
  retain?: boolean;
}

export function canPublish(p: Principal, topic: string, opts: PublishOptions = {}): Decision {
  const where = parseDeviceTopic(topic);
  if (!where) return deny('not-a-device-topic', `${topic} is not a payspeaker device topic`);
  if (p.role === 'backend') {
    if (!BACKEND_PUBLISHES.has(where.leaf))
      return deny('wrong-leaf', `the backend publishes only notify, cmd and time, not ${where.leaf}`);
    return opts.retain ? deny('retained', retainedReason(where.leaf)) : ALLOW;
  }
  if (where.deviceId !== p.id)
    return deny('another-device', `a device may publish only under its own id (${p.id}), not ${where.deviceId}`);
  if (BACKEND_PUBLISHES.has(where.leaf)) return deny('backend-only', `only the backend may publish ${where.leaf}`);
  if (!DEVICE_PUBLISHES.has(where.leaf))
    return deny(
      'wrong-leaf',
      `a device publishes only ack, state, telemetry, cmd/result and time/req, not ${where.leaf}`,
    );
  return opts.retain && where.leaf !== 'state' ? deny('retained', retainedReason(where.leaf)) : ALLOW;
}

const retainedReason = (leaf: string) =>
  `${leaf} messages may not be retained (only a device's state is): a later subscriber would take a retained one for new`;

export function canSubscribe(p: Principal, filter: string): Decision {
  if (p.role === 'backend') return backendCanSubscribe(filter);
  if (filter.includes('+') || filter.includes('#'))
    return deny('wildcard', 'devices may not use wildcard subscriptions');
  const where = parseDeviceTopic(filter);
  if (!where) return deny('not-a-device-topic', `${filter} is not a payspeaker device topic`);
  if (where.deviceId !== p.id)
    return deny('another-device', `a device may subscribe only to its own topics (${p.id}), not ${where.deviceId}'s`);
  return BACKEND_PUBLISHES.has(where.leaf)
    ? ALLOW
    : deny('wrong-leaf', `a device subscribes only to its notify, cmd and time topics, not ${where.leaf}`);
}

/**
 * Whether a message on `topic` may be delivered to `p`: the subscription rules applied to the
 * concrete topic. Checked on every delivery — live, retained and queued for a persistent
 * session — so no way around the subscription check can make a device read another's payments.
 */
export function canReceive(p: Principal, topic: string): Decision {
  return canSubscribe(p, topic);
}

/** The will is a publish the broker makes later on the client's behalf: it is checked at connect. */
export function canSetWill(p: Principal, topic: string): Decision {
  if (p.role === 'backend') return deny('will', 'the backend has no last will');
  const own = topics.state(p.id);
  return topic === own
    ? ALLOW
    : deny('will', `a device's last will must be its own state topic (${own}), not ${topic}`);
}

/** `devices/+/ack` or `devices/SPK-0001/ack`; never `#`, which would include other traffic. */
function backendCanSubscribe(filter: string): Decision {
  const prefix = `${TOPIC_ROOT}/devices/`;
  if (!filter.startsWith(prefix)) return deny('not-a-device-topic', `${filter} is not a payspeaker device topic`);
  const rest = filter.slice(prefix.length);
  const slash = rest.indexOf('/');
  const id = rest.slice(0, slash);
  const leaf = rest.slice(slash + 1);
  if (slash <= 0 || (id !== '+' && !isDeviceId(id)))
    return deny('wildcard', `${filter}: the device level must be "+" or a device id`);
  return DEVICE_PUBLISHES.has(leaf)
    ? ALLOW
    : deny('wrong-leaf', `the backend subscribes only to ack, state, telemetry, cmd/result and time/req, not ${leaf}`);
}
