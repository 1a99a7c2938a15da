/**
 * The MQTT topic tree, protocol v1. Every topic lives under `payspeaker/v1/`, so a v2 can run
 * beside it on the same broker. One device owns one subtree, which keeps ACLs a prefix check.
 *
 *   payspeaker/v1/devices/{id}/notify       backend → device   QoS 1   payment notifications
 *   payspeaker/v1/devices/{id}/ack          device  → backend  QoS 1   one ack per notification
 *   payspeaker/v1/devices/{id}/state        device  → all      QoS 1   retained; last will = offline
 *   payspeaker/v1/devices/{id}/cmd          backend → device   QoS 1   commands (volume, replay, …)
 *   payspeaker/v1/devices/{id}/cmd/result   device  → backend  QoS 1   one result per command
 *   payspeaker/v1/devices/{id}/telemetry    device  → backend  QoS 0   periodic health
 *   payspeaker/v1/devices/{id}/time/req     device  → backend  QoS 0   "what time is it?" (fresh nonce)
 *   payspeaker/v1/devices/{id}/time         backend → device   QoS 0   the signed answer (time.ts)
 */
export const PROTOCOL_VERSION = 1;
export const TOPIC_ROOT = `payspeaker/v${PROTOCOL_VERSION}`;

/** Device ids become topic levels, so they may not contain `/`, `+`, `#` or spaces. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function isDeviceId(id: unknown): id is string {
  return typeof id === 'string' && DEVICE_ID_PATTERN.test(id);
}

export function assertDeviceId(id: string): string {
  if (!isDeviceId(id)) {
    throw new Error(
      `invalid device id ${JSON.stringify(id)}: use 1-64 letters, digits, "-" or "_", starting with a letter or digit (e.g. SPK-0001)`,
    );
  }
  return id;
}

function deviceTopic(id: string, leaf: string): string {
  return `${TOPIC_ROOT}/devices/${assertDeviceId(id)}/${leaf}`;
}

export const topics = {
  notify: (id: string) => deviceTopic(id, 'notify'),
  ack: (id: string) => deviceTopic(id, 'ack'),
  state: (id: string) => deviceTopic(id, 'state'),
  command: (id: string) => deviceTopic(id, 'cmd'),
  commandResult: (id: string) => deviceTopic(id, 'cmd/result'),
  telemetry: (id: string) => deviceTopic(id, 'telemetry'),
  /** The device asks the broker for the time (time.ts). */
  timeRequest: (id: string) => deviceTopic(id, 'time/req'),
  /** The broker's signed answer. */
  time: (id: string) => deviceTopic(id, 'time'),
  /** Wildcard subscriptions for the cloud side. */
  allAcks: `${TOPIC_ROOT}/devices/+/ack`,
  allStates: `${TOPIC_ROOT}/devices/+/state`,
  allTimeRequests: `${TOPIC_ROOT}/devices/+/time/req`,
} as const;

/** `payspeaker/v1/devices/SPK-0001/ack` → { deviceId: 'SPK-0001', leaf: 'ack' }; null if not ours. */
export function parseDeviceTopic(topic: string): { deviceId: string; leaf: string } | null {
  const prefix = `${TOPIC_ROOT}/devices/`;
  if (!topic.startsWith(prefix)) return null;
  const rest = topic.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  const deviceId = rest.slice(0, slash);
  return isDeviceId(deviceId) ? { deviceId, leaf: rest.slice(slash + 1) } : null;
}
