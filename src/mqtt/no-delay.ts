/**
 * MQTT.js leaves Nagle's algorithm on. A speaker writes a PUBACK and then its own ack as two
 * small packets; with Nagle the second waits for the peer's delayed TCP ACK (~40 ms on Linux).
 * Turning it off after every (re)connect removes that wait from every payment.
 */
import net from 'node:net';
import type { MqttClient } from 'mqtt';

export function disableNagle(client: MqttClient): MqttClient {
  const apply = () => {
    if (client.stream instanceof net.Socket) client.stream.setNoDelay(true);
  };
  apply();
  client.on('connect', apply);
  return client;
}
