/** The device state machine: every allowed and every refused transition, derived from the table. */
import { describe, expect, it } from 'vitest';
import {
  DEVICE_EVENTS,
  DEVICE_STATES,
  DeviceStateMachine,
  TRANSITIONS,
  type DeviceEvent,
  type DeviceState,
  type Transition,
} from '../../device/state-machine.ts';
import { captureLog, LEVEL } from '../fixtures/capture-log.ts';

/** The shortest event path from booting to each state, so a test can start anywhere. */
const PATH_TO: Record<DeviceState, DeviceEvent[]> = {
  booting: [],
  connecting: ['booted'],
  online: ['booted', 'connected'],
  offline: ['booted', 'connection-lost'],
  updating: ['booted', 'connected', 'update-started'],
};

function machineIn(
  state: DeviceState,
  opts: ConstructorParameters<typeof DeviceStateMachine>[0] = {},
): DeviceStateMachine {
  const m = new DeviceStateMachine(opts);
  for (const e of PATH_TO[state]) m.send(e);
  expect(m.state).toBe(state);
  return m;
}

const allowed = DEVICE_STATES.flatMap((from) =>
  Object.entries(TRANSITIONS[from]).map(([event, to]) => ({
    from,
    event: event as DeviceEvent,
    to: to as DeviceState,
  })),
);
const refused = DEVICE_STATES.flatMap((from) =>
  DEVICE_EVENTS.filter((e) => !(e in TRANSITIONS[from])).map((event) => ({ from, event })),
);

describe('the transition table', () => {
  it('is the one specified', () => {
    expect(TRANSITIONS).toEqual({
      booting: { booted: 'connecting' },
      connecting: { connected: 'online', 'connection-lost': 'offline' },
      online: { 'connection-lost': 'offline', 'update-started': 'updating' },
      offline: { retry: 'connecting' },
      updating: { 'update-finished': 'booting', 'update-failed': 'online' },
    });
    expect(allowed).toHaveLength(8);
    expect(refused).toHaveLength(DEVICE_STATES.length * DEVICE_EVENTS.length - 8);
  });

  it('cannot be changed at run time', () => {
    expect(Object.isFrozen(TRANSITIONS)).toBe(true);
    for (const s of DEVICE_STATES) expect(Object.isFrozen(TRANSITIONS[s])).toBe(true);
  });
});

describe('DeviceStateMachine', () => {
  it('starts in booting', () => {
    expect(new DeviceStateMachine().state).toBe('booting');
  });

  it.each(allowed)('$from --$event--> $to', ({ from, event, to }) => {
    const m = machineIn(from, { now: () => 1234 });
    const seen: Transition[] = [];
    m.on('transition', (t) => seen.push(t));
    expect(m.send(event)).toBe(to);
    expect(m.state).toBe(to);
    expect(seen).toEqual([{ from, to, event, at: 1234 }]);
  });

  it.each(refused)('refuses $event in $from: state unchanged, no event, one debug line', ({ from, event }) => {
    const { log, lines } = captureLog();
    const m = machineIn(from, { log });
    lines.length = 0;
    const seen: Transition[] = [];
    m.on('transition', (t) => seen.push(t));
    expect(m.send(event)).toBe(false);
    expect(m.state).toBe(from);
    expect(seen).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: LEVEL.debug, state: from, event });
  });

  it('reports a whole life as history through the transition event, stamped by the injected clock', () => {
    let clock = 1_000;
    const m = new DeviceStateMachine({ now: () => clock });
    const history: Transition[] = [];
    m.on('transition', (t) => history.push(t));
    const events: DeviceEvent[] = [
      'booted',
      'connected',
      'connection-lost',
      'connection-lost',
      'retry',
      'connected',
      'update-started',
      'update-finished',
    ];
    for (const e of events) {
      clock += 10;
      m.send(e);
    }
    expect(history.map((t) => `${t.at} ${t.from}>${t.to}`)).toEqual([
      '1010 booting>connecting',
      '1020 connecting>online',
      '1030 online>offline',
      // 1040: a second connection-lost while offline was refused
      '1050 offline>connecting',
      '1060 connecting>online',
      '1070 online>updating',
      '1080 updating>booting',
    ]);
  });

  it('when() resolves at once for the current state', async () => {
    await expect(new DeviceStateMachine().when('booting')).resolves.toBeUndefined();
  });

  it('when() resolves on entering the state, not before, and forgets its listener', async () => {
    const m = new DeviceStateMachine();
    let online = false;
    const waiting = m.when('online').then(() => (online = true));
    m.send('booted');
    m.send('connection-lost');
    m.send('retry');
    await Promise.resolve();
    expect(online).toBe(false);
    m.send('connected');
    await waiting;
    expect(online).toBe(true);
    expect(m.listenerCount('transition')).toBe(0);
  });

  it('when() serves several waiters for the same state', async () => {
    const m = machineIn('connecting');
    const all = Promise.all([m.when('online'), m.when('online'), m.when('offline')]);
    m.send('connected');
    m.send('connection-lost');
    await expect(all).resolves.toHaveLength(3);
  });
});
