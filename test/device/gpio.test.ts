/**
 * The Pi board's GPIO logic — debounce, active-low, LED patterns, releasing lines — against an
 * in-memory chip (test/fixtures/fake-gpiod/memory-chip.ts). A mock, because this machine has no
 * GPIO chip and its kernel offers neither gpio-sim nor gpio-mockup; the libgpiod tools driver is
 * tested on its own in gpio-tools.test.ts. Timers are vitest's fake ones: debounce and blink
 * timing are asserted to the millisecond.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ButtonName } from '../../device/board.ts';
import { createGpioButtons } from '../../device/drivers/gpio/buttons.ts';
import { createGpioLed, LED_PATTERNS } from '../../device/drivers/gpio/led.ts';
import { DEVICE_STATES } from '../../device/state-machine.ts';
import { createMemoryChip, type MemoryChip } from '../fixtures/fake-gpiod/memory-chip.ts';

const PINS = { 'volume-up': 17, 'volume-down': 22, replay: 23, summary: 24, power: 25 } as const;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

async function buttons(chip: MemoryChip, over: { activeLow?: boolean; debounceMs?: number } = {}) {
  const failures: Error[] = [];
  const activeLow = over.activeLow ?? true;
  const b = await createGpioButtons(chip, {
    pins: PINS,
    activeLow,
    bias: activeLow ? 'pull-up' : 'pull-down',
    debounceMs: over.debounceMs ?? 30,
    onFailure: (err) => failures.push(err),
  });
  const pressed: ButtonName[] = [];
  b.onPress((name) => pressed.push(name));
  return { b, pressed, failures };
}

describe('GPIO buttons', () => {
  it('maps each pin to its button: a press (to GND, active-low) reaches the handlers once', async () => {
    const chip = createMemoryChip();
    const { b, pressed } = await buttons(chip);
    for (const [name, pin] of Object.entries(PINS)) {
      chip.drive(pin, 0);
      vi.advanceTimersByTime(30);
      chip.drive(pin, 1);
      vi.advanceTimersByTime(30);
      expect(pressed.at(-1), name).toBe(name);
    }
    expect(pressed).toEqual(Object.keys(PINS));
    expect([...chip.biases.values()]).toEqual(Array(5).fill('pull-up'));
    await b.close();
  });

  it('debounces: contact bounce is one press, fired once the level has held for debounceMs', async () => {
    const chip = createMemoryChip();
    const { b, pressed } = await buttons(chip);
    chip.bounce(23, [0, 1, 0, 1, 0]); // pressed, with the contacts chattering
    vi.advanceTimersByTime(29);
    expect(pressed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(pressed).toEqual(['replay']);
    chip.bounce(23, [1, 0, 1]); // released, chattering again
    vi.advanceTimersByTime(100);
    expect(pressed).toEqual(['replay']);
    await b.close();
  });

  it('ignores a glitch shorter than debounceMs, and a held button presses only once', async () => {
    const chip = createMemoryChip();
    const { b, pressed } = await buttons(chip, { debounceMs: 50 });
    chip.drive(24, 0);
    vi.advanceTimersByTime(10);
    chip.drive(24, 1); // a 10 ms spike: noise on a long wire, not a finger
    vi.advanceTimersByTime(200);
    expect(pressed).toEqual([]);
    chip.drive(24, 0);
    vi.advanceTimersByTime(5000); // held for five seconds
    expect(pressed).toEqual(['summary']);
    chip.drive(24, 1);
    vi.advanceTimersByTime(50);
    chip.drive(24, 0);
    vi.advanceTimersByTime(50);
    expect(pressed).toEqual(['summary', 'summary']);
    await b.close();
  });

  it("judges by the edges' own timestamps: a quick press whose two edges arrive together, late, still counts", async () => {
    const chip = createMemoryChip();
    const { b, pressed } = await buttons(chip);
    const t = Date.now() - 500; // pressed for 80 ms half a second ago, while speech synthesis held the event loop
    chip.late(17, [
      [0, t],
      [1, t + 80],
    ]);
    expect(pressed).toEqual(['volume-up']);
    chip.late(22, [
      [0, t + 100],
      [1, t + 110],
      [0, t + 112],
      [1, t + 120],
    ]); // only bounce, 10 ms at most: no press
    vi.advanceTimersByTime(100);
    expect(pressed).toEqual(['volume-up']);
    await b.close();
  });

  it('active-high wiring (to 3V3, pull-down): high is pressed, low is released', async () => {
    const chip = createMemoryChip();
    const { b, pressed } = await buttons(chip, { activeLow: false });
    expect([...chip.biases.values()]).toEqual(Array(5).fill('pull-down'));
    chip.drive(17, 1);
    vi.advanceTimersByTime(30);
    expect(pressed).toEqual(['volume-up']);
    chip.drive(17, 0);
    vi.advanceTimersByTime(30);
    expect(pressed).toEqual(['volume-up']);
    await b.close();
  });

  it('close releases every line and drops a press still settling', async () => {
    const chip = createMemoryChip();
    const { b, pressed } = await buttons(chip);
    expect([...chip.requested.keys()].sort()).toEqual([17, 22, 23, 24, 25]);
    chip.drive(22, 0);
    await b.close();
    vi.advanceTimersByTime(100);
    expect(pressed).toEqual([]);
    expect(chip.requested.size).toBe(0);
  });

  it('a dead watch is reported through onFailure', async () => {
    const chip = createMemoryChip();
    const { b, failures } = await buttons(chip);
    chip.killWatches('gpiomon stopped: exit 1');
    expect(failures.map((e) => e.message)).toEqual(['gpiomon stopped: exit 1']);
    await b.close();
  });
});

describe('GPIO status LED', () => {
  async function led(chip: MemoryChip, activeLow = false) {
    return createGpioLed(chip, { offset: 27, activeLow, onFailure: () => undefined });
  }
  /** The levels the line goes through over `ms`, sampled at each change. */
  const levels = (chip: MemoryChip) => chip.outputs.get(27)!;

  it('starts dark, is steady on while booting and online', async () => {
    const chip = createMemoryChip();
    const l = await led(chip);
    expect(levels(chip)).toEqual([0]);
    l.set('booting');
    vi.advanceTimersByTime(5000);
    expect(levels(chip)).toEqual([0, 1]);
    l.set('online');
    vi.advanceTimersByTime(5000);
    expect(levels(chip)).toEqual([0, 1]);
    await l.close();
  });

  it('blinks at 1 Hz while connecting and fast (200 ms) when offline', async () => {
    const chip = createMemoryChip();
    const l = await led(chip);
    l.set('connecting');
    const at: number[] = [];
    const history = levels(chip);
    let seen = history.length;
    for (let t = 0; t < 2000; t += 10) {
      vi.advanceTimersByTime(10);
      if (history.length !== seen) at.push(t + 10);
      seen = history.length;
    }
    expect(at).toEqual([500, 1000, 1500, 2000]);
    expect(history).toEqual([0, 1, 0, 1, 0, 1]);

    l.set('offline');
    const before = history.length;
    vi.advanceTimersByTime(1000);
    expect(history.length - before).toBe(5); // on at once, then a change every 200 ms
    await l.close();
  });

  it('every device state has a pattern, and re-setting the same state keeps the blink phase', async () => {
    for (const s of DEVICE_STATES) expect(LED_PATTERNS[s], s).toBeDefined();
    const chip = createMemoryChip();
    const l = await led(chip);
    l.set('connecting');
    vi.advanceTimersByTime(400);
    l.set('connecting'); // the presence extension refreshes on every display update
    vi.advanceTimersByTime(100);
    expect(levels(chip)).toEqual([0, 1, 0]);
    await l.close();
  });

  it('active-low LED: lit is 0', async () => {
    const chip = createMemoryChip();
    const l = await led(chip, true);
    l.set('online');
    expect(levels(chip)).toEqual([1, 0]);
    await l.close();
    expect(levels(chip).at(-1)).toBe(1);
  });

  it('close stops the pattern, leaves the LED off and releases the line', async () => {
    const chip = createMemoryChip();
    const l = await led(chip);
    l.set('offline');
    vi.advanceTimersByTime(100);
    await l.close();
    const n = levels(chip).length;
    vi.advanceTimersByTime(2000);
    expect(levels(chip).length).toBe(n);
    expect(levels(chip).at(-1)).toBe(0);
    expect(chip.requested.size).toBe(0);
    l.set('online'); // after close: ignored, no throw
  });
});
