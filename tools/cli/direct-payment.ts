/**
 * `pay --direct`: one signed notification straight over MQTT, as the backend, and the device's
 * ack. The connection (TLS, credentials) is broker-connection.ts's; the asking is the
 * publisher's. A device the registry does not know is refused at once; one that is offline is
 * said at once, and the payment still goes out: the broker queues it in the device's
 * persistent session and it is played when the device is back (unlike a command, a payment
 * does not go stale: an old one is summarized, not dropped).
 */
import type { Ack, Notification } from '../../src/protocol/index.ts';
import { endClient } from '../../src/mqtt/connect.ts';
import { AckTimeoutError, PaymentPublisher } from '../publisher/publisher.ts';
import { brokerCliError, connectBackend, type BrokerFlags } from './broker-connection.ts';
import { checkProvisioned, describePresence, devicePresence } from './device-presence.ts';
import { resolveDataDir } from './data-option.ts';
import { CliError, EXIT } from './exit-codes.ts';
import type { Credentials } from '../../broker/credentials.ts';

export interface DirectPayment {
  notification: Notification;
  credentials: Credentials | null;
  timeoutMs: number;
  /** Where a note for the user goes (stderr): that the device is offline and the payment waits. */
  note(line: string): void;
}

export async function payDirect(flags: BrokerFlags, p: DirectPayment): Promise<Ack> {
  const device = p.notification.device;
  const entry = checkProvisioned(resolveDataDir(flags), device, p.credentials !== null);
  const client = await connectBackend(flags, `backend-pay-${p.notification.id}`, p.credentials);
  try {
    const presence = await devicePresence(client, device, entry);
    if (presence.kind !== 'online') {
      const then =
        presence.kind === 'offline'
          ? 'the payment waits in its session on the broker and is announced when it is back'
          : 'a broker keeps nothing for a device that has never had a session, so it is likely lost';
      p.note(`${describePresence(device, presence)}: ${then}; waiting ${p.timeoutMs / 1000} s for its ack`);
    }
    return await new PaymentPublisher(client).send(p.notification, p.timeoutMs);
  } catch (err) {
    if (err instanceof AckTimeoutError) throw new CliError(err.message, EXIT.TIMEOUT);
    throw brokerCliError(err);
  } finally {
    await endClient(client);
  }
}
