/**
 * The baseline a fleet is measured against: plain MQTT.js clients with the speakers' session
 * settings (clean: false, QoS 1, Nagle off) subscribed to the same topics, and nothing behind
 * them. A payment counts as heard when the client's message event fires: publish → receive.
 */
import type { MqttClient } from 'mqtt';
import { topics } from '../../src/protocol/index.ts';
import { disableNagle } from '../../src/mqtt/no-delay.ts';
import { tlsClientOptions } from '../../src/mqtt/connect.ts';
import { preciseNow } from './clock.ts';
import { deviceId } from './ids.ts';
import { forEachLimited } from './limited.ts';
import type { HeardReporter } from './reporter.ts';
import type { WorkerSetup } from './messages.ts';
import { routeUrl, type Slice } from './speakers.ts';
import { Links } from './links.ts';
import { sourceAddressOf } from './source-addresses.ts';

export function rawSlice(setup: WorkerSetup, reporter: HeardReporter): Slice {
  const clients: MqttClient[] = [];
  const links = new Links(setup.to - setup.from);
  return {
    links,
    async start(onOnline) {
      await forEachLimited(setup.to - setup.from, setup.connectConcurrency, async (i) => {
        const id = deviceId(setup.prefix, setup.from + i);
        const connect = links.transport(i, sourceAddressOf(setup.sourceAddresses, setup.from + i));
        const client = disableNagle(
          connect(routeUrl(setup, i), {
            // A secure broker lets a device's credentials in under its own client id only.
            clientId: setup.perDevice.passwords ? `payspeaker-${id}` : `payspeaker-raw-${id}`,
            clean: false,
            keepalive: 120,
            reconnectPeriod: 1000,
            ...(setup.perDevice.passwords && { username: id, password: setup.perDevice.passwords[i] }),
            ...tlsClientOptions(setup.brokerUrl, setup.caPem),
          }),
        );
        clients.push(client);
        // Back after a storm: the broker kept the session and its subscription (clean: false).
        client.on('connect', () => links.online(i));
        // The last few ids this client took: a QoS 1 redelivery (DUP set) of one of them is the
        // broker resending what was in flight when the link dropped, as MQTT allows, not a
        // payment heard twice. Speakers tell those apart by their own dedupe.
        const recent: string[] = [];
        client.on('message', (_topic, payload, packet) => {
          const at = preciseNow();
          // The id is all a raw client reads: the least any receiver must do to know what arrived.
          const parsed = (JSON.parse(payload.toString()) as { id?: unknown }).id;
          const paymentId = typeof parsed === 'string' ? parsed : '';
          if (packet.dup && recent.includes(paymentId)) return reporter.count('redelivered');
          if (recent.push(paymentId) > 4) recent.shift();
          reporter.heard(paymentId, at);
        });
        await new Promise<void>((resolve, reject) => {
          client.once('connect', () =>
            client.subscribeAsync(topics.notify(id), { qos: 1 }).then(() => resolve(), reject),
          );
          client.once('error', reject);
        });
        onOnline(clients.length);
      });
    },
    async stop() {
      await Promise.all(clients.map((c) => c.endAsync()));
    },
  };
}
