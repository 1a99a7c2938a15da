/**
 * The ack-intake step on its own (broker/ack-intake.ts): what it asks of the intake, and when
 * it lets aedes go on to PUBACK. The end-to-end kill -9 case is test/e2e/ack-durability.test.ts.
 */
import type { AedesOptions, Client, PublishPacket } from 'aedes';
import { describe, expect, it } from 'vitest';
import { withAckIntake, type AckIntake } from '../../broker/ack-intake.ts';
import { topics } from '../../src/protocol/index.ts';

type Authorize = NonNullable<AedesOptions['authorizePublish']>;

const client = { id: 'payspeaker-SPK-0001' } as Client;
const packet = (topic: string, payload = '{}'): PublishPacket =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false }) as PublishPacket;

/** Runs the composed authorizePublish; resolves with what it told aedes, and the order things happened in. */
function authorize(
  hooks: AedesOptions | undefined,
  intake: AckIntake | null,
  c: Client | null,
  p: PublishPacket,
): Promise<Error | null> {
  const composed = withAckIntake(hooks, () => intake).authorizePublish as Authorize;
  return new Promise((resolve) => composed(c, p, (err) => resolve(err ?? null)));
}

function recordingIntake(outcome: 'ok' | 'fail' = 'ok') {
  const taken: string[] = [];
  const events: string[] = [];
  const intake: AckIntake = {
    takeAck: (device, p) => {
      taken.push(`${device} ${p.topic}`);
      events.push('take');
      return new Promise<void>((resolve, reject) =>
        setImmediate(() => {
          events.push('committed');
          if (outcome === 'ok') resolve();
          else reject(new Error('disk full'));
        }),
      );
    },
  };
  return { intake, taken, events };
}

describe('withAckIntake', () => {
  it("answers aedes only after the intake has committed a device's ack", async () => {
    const { intake, taken, events } = recordingIntake();
    const err = await authorize({}, intake, client, packet(topics.ack('SPK-0001'))).then((e) => {
      events.push('authorized');
      return e;
    });
    expect(err).toBeNull();
    expect(taken).toEqual([`SPK-0001 ${topics.ack('SPK-0001')}`]);
    expect(events).toEqual(['take', 'committed', 'authorized']);
  });

  it('refuses (no PUBACK, the connection closes) when the ack could not be written', async () => {
    const { intake } = recordingIntake('fail');
    expect((await authorize({}, intake, client, packet(topics.ack('SPK-0001'))))?.message).toBe('disk full');
  });

  it('asks the ACL first: a refused publish never reaches the intake', async () => {
    const { intake, taken } = recordingIntake();
    const acl: Authorize = (_c, _p, done) => done(new Error('not authorized'));
    expect((await authorize({ authorizePublish: acl }, intake, client, packet(topics.ack('SPK-0001'))))?.message).toBe(
      'not authorized',
    );
    expect(taken).toEqual([]);
  });

  it('leaves other topics, wills and a broker without a service alone', async () => {
    const { intake, taken } = recordingIntake();
    expect(await authorize({}, intake, client, packet(topics.state('SPK-0001')))).toBeNull();
    expect(await authorize({}, intake, null, packet(topics.ack('SPK-0001')))).toBeNull();
    expect(await authorize({}, null, client, packet(topics.ack('SPK-0001')))).toBeNull();
    expect(taken).toEqual([]);
  });

  it("keeps aedes's own default without security hooks: $SYS/ is refused", async () => {
    expect(await authorize(undefined, null, client, packet('$SYS/x'))).toBeInstanceOf(Error);
    expect(await authorize(undefined, null, client, packet('a/b'))).toBeNull();
  });
});
