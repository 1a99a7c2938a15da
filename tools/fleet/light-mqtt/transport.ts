/**
 * The firmware's transport (device/connection.ts: MqttTransport) made of the light client:
 * what a fleet's speakers connect with on mqtt:// and mqtts:// (WebSocket URLs keep MQTT.js).
 */
import type { MqttLink, MqttTransport } from '../../../device/connection.ts';
import { LightMqttClient } from './client.ts';

/** Opens each socket from `localAddress` (null: the system's choice) and hands each client to `made`. */
export function lightTransport(
  localAddress: string | null,
  made: (client: LightMqttClient) => void,
  fallback: MqttTransport,
): MqttTransport {
  return (brokerUrl, options): MqttLink => {
    if (/^wss?:/i.test(brokerUrl)) return fallback(brokerUrl, options);
    const client = new LightMqttClient(brokerUrl, { ...options, ...(localAddress ? { localAddress } : {}) });
    made(client);
    return client;
  };
}
