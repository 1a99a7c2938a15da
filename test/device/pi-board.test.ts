/**
 * The Raspberry Pi board: its `pi` config section, the "no GPIO chip" path (with the real gpiod
 * tools, which find no chip on this machine), and the speaker firmware running on it against a
 * real broker. GPIO lines are an in-memory chip (test/fixtures/fake-gpiod/memory-chip.ts): this
 * machine has no GPIO chip and no gpio-sim/gpio-mockup. Audio is real: aplay on a named ALSA
 * device that is the ALSA file plugin, so the announcement lands in a WAV we can inspect.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import { captureLog, LEVEL } from '../fixtures/capture-log.ts';
import { createMemoryChip, memoryBackend, type MemoryChip } from '../fixtures/fake-gpiod/memory-chip.ts';
import { needs } from '../support/prerequisites.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { decodeWav } from '../../src/audio/wav.ts';
import { nonSilentMs } from '../../src/audio/pcm.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { Speaker } from '../../device/speaker.ts';
import { createPiBoard, parsePiConfig, PI_DEFAULTS, type PiBoardOptions } from '../../device/boards/pi.ts';
import type { SpeakerEvent } from '../../device/events.ts';
import type { RunningBroker } from '../../broker/broker.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'payspeaker-pi-'));
const capture = path.join(tmp, 'speaker.wav');
const aplay = needs('aplay');
const gpiod = needs('gpiod');
const aplayAndGpiod = needs('aplay', 'gpiod');
const hasChip = existsSync('/dev') && readdirSync('/dev').some((n) => n.startsWith('gpiochip'));
const voice = createTtsVoice(createEspeakEngine());
const savedAlsa = process.env.ALSA_CONFIG_PATH;

let broker: RunningBroker;
beforeAll(async () => {
  // A named ALSA device and no default: a sink that ignored pi.audioDevice would fail to play.
  const conf = path.join(tmp, 'asound.conf');
  writeFileSync(
    conf,
    `pcm.null { type null }\npcm.pi_speaker { type file; slave.pcm "null"; file "${capture}"; format "wav" }\n`,
  );
  process.env.ALSA_CONFIG_PATH = conf;
  broker = await startTestBroker();
});
afterAll(async () => {
  if (savedAlsa === undefined) delete process.env.ALSA_CONFIG_PATH;
  else process.env.ALSA_CONFIG_PATH = savedAlsa;
  await broker.close();
  rmSync(tmp, { recursive: true, force: true });
});

let boards = 0;
function boardOptions(extra: Partial<PiBoardOptions> = {}) {
  const { log, lines } = captureLog();
  const opts: PiBoardOptions = {
    device: 'SPK-PI',
    log,
    nvsFile: path.join(tmp, `nvs-${++boards}.json`),
    audio: { kind: 'none' },
    ...extra,
  };
  return { opts, lines };
}

describe('pi config section', () => {
  it('defaults to the documented wiring', () => {
    expect(parsePiConfig(undefined)).toEqual({
      ...PI_DEFAULTS,
      buttons: { ...PI_DEFAULTS.buttons },
      bias: 'pull-up',
      gpio: true,
    });
  });

  it('overrides one pin at a time; null means not wired; active-high buttons get pull-downs', () => {
    const c = parsePiConfig({
      chip: 'gpiochip4',
      buttons: { replay: 5, power: null },
      led: null,
      activeLow: false,
      audioDevice: 'plughw:1,0',
    });
    expect(c.buttons).toEqual({ 'volume-up': 17, 'volume-down': 22, replay: 5, summary: 24 });
    expect(c).toMatchObject({ chip: 'gpiochip4', led: null, bias: 'pull-down', audioDevice: 'plughw:1,0' });
  });

  it.each([
    [{ led: 17 }, 'device config pi.led: BCM 17 is used by both volume-up and led: give each its own pin'],
    [
      { buttons: { replay: 'x' } },
      'device config pi.buttons.replay: expected a BCM GPIO number (e.g. 17), or null for "not wired", got "x"',
    ],
    [
      { buttons: { replay: 60 } },
      'device config pi.buttons.replay: BCM GPIO numbers end at 53 (the header has 2-27), got 60',
    ],
    [
      { buttons: { mute: 3 } },
      'device config pi.buttons: unknown key "mute"; expected volume-up, volume-down, replay, summary, power',
    ],
    [
      { leds: 3 },
      'device config pi: unknown key "leds"; expected chip, buttons, led, activeLow, ledActiveLow, bias, debounceMs, audioDevice, gpio',
    ],
    [{ bias: 'up' }, 'device config pi.bias: expected one of as-is, disable, pull-up, pull-down'],
    [{ debounceMs: 2.5 }, 'device config pi.debounceMs: expected whole milliseconds'],
    [[17], 'device config pi: expected an object such as {"buttons": {"replay": 23}, "led": 27}'],
  ])('refuses %j with a message naming the key', (raw, message) => {
    expect(() => parsePiConfig(raw)).toThrow(message);
  });
});

describe('Pi board without a usable GPIO chip', () => {
  it.skipIf(gpiod.missing || hasChip)(
    `with the real gpiod tools on this chip-less machine: one warning, buttons and LED off, the board works${gpiod.note}`,
    async () => {
      const { opts, lines } = boardOptions();
      const board = await createPiBoard(opts);
      expect(board.gpio).toEqual({
        ok: false,
        reason:
          'no GPIO chip found (gpiodetect found no GPIO chip (no /dev/gpiochip* device: is this a Raspberry Pi?))',
      });
      const warnings = lines.filter((l) => l.level === LEVEL.warn);
      expect(warnings.map((l) => l.msg)).toEqual([
        `${board.gpio.ok ? '' : board.gpio.reason}: buttons and LED are off; audio still works`,
      ]);
      board.led.set('online'); // a dark LED takes states without complaint
      const off = board.buttons.onPress(() => undefined);
      off();
      await board.nvs.set({ probe: 1 });
      await board.close();
    },
  );

  it('pi.gpio false: GPIO is not touched at all', async () => {
    const chip = createMemoryChip();
    const { opts, lines } = boardOptions({ pi: { gpio: false }, gpio: memoryBackend(chip) });
    const board = await createPiBoard(opts);
    expect(board.gpio).toEqual({ ok: false, reason: 'GPIO disabled in the device config (pi.gpio: false)' });
    expect(chip.requested.size).toBe(0);
    expect(lines.find((l) => l.level === LEVEL.warn)?.msg).toMatch(/buttons and LED are off; audio still works$/);
    await board.close();
  });

  it('a pin the chip does not have: off, saying which', async () => {
    const chip = createMemoryChip({ name: 'gpiochip0', label: 'raspberrypi-exp-gpio', lines: 8 });
    const { opts } = boardOptions({ gpio: memoryBackend(chip) });
    const board = await createPiBoard(opts);
    expect(board.gpio).toEqual({
      ok: false,
      reason: "BCM 17 does not exist on gpiochip0 (8 lines); fix the pins in the device config's pi section",
    });
    expect(chip.requested.size).toBe(0);
    await board.close();
  });

  it('a busy LED line: off with the reason, and the button lines already taken are given back', async () => {
    const chip = createMemoryChip();
    chip.failNext(
      27,
      'gpioset --mode=signal gpiochip0 27=0 failed at start: gpioset: error setting the GPIO line values: Device or resource busy',
    );
    const { opts } = boardOptions({ gpio: memoryBackend(chip) });
    const board = await createPiBoard(opts);
    expect(board.gpio.ok).toBe(false);
    expect(!board.gpio.ok && board.gpio.reason).toBe(
      'GPIO lines on gpiochip0 could not be requested (gpioset --mode=signal gpiochip0 27=0 failed at start: gpioset: error setting the GPIO line values: Device or resource busy)',
    );
    expect(chip.requested.size).toBe(0);
    await board.close();
  });
});

describe('the speaker firmware on the Pi board', () => {
  it('with a chip: every button reaches its action, the LED follows the state, close releases every line', async () => {
    const chip: MemoryChip = createMemoryChip();
    const { opts } = boardOptions({ gpio: memoryBackend(chip), pi: { debounceMs: 5 } });
    const board = await createPiBoard(opts);
    expect(board.gpio).toEqual({ ok: true, chip: 'gpiochip0', buttons: PI_DEFAULTS.buttons, led: 27 });
    const speaker = new Speaker({
      id: 'SPK-PI-KEYS',
      brokerUrl: broker.mqttUrl,
      lang: 'zh-CN',
      board,
      voice,
      settings: { prompts: false },
    });
    const events: SpeakerEvent[] = [];
    speaker.on('event', (e) => events.push(e));
    await speaker.start();
    await until(() => events.some((e) => e.event === 'online'), 'online');
    await until(() => chip.outputs.get(27)!.at(-1) === 1, 'the LED lit');

    const press = async (pin: number, expected: (e: SpeakerEvent) => boolean, what: string) => {
      chip.drive(pin, 0);
      await new Promise((r) => setTimeout(r, 20));
      chip.drive(pin, 1);
      await until(() => events.some(expected), what);
    };
    const volume = () => [...events].reverse().find((e) => e.event === 'volume');
    await press(17, (e) => e.event === 'volume', 'volume up');
    const up = (volume() as { volume: number }).volume;
    await press(22, (e) => e.event === 'volume' && e.volume === up - 1, 'volume down');
    await press(23, (e) => e.event === 'spoke' && (e.what === 'replay' || e.what === 'no-records'), 'replay');
    await press(24, (e) => e.event === 'spoke' && e.what === 'summary', 'summary');
    await press(25, (e) => e.event === 'spoke' && e.what === 'battery', 'battery (power key)');
    expect(events.find((e) => e.event === 'spoke' && e.what === 'battery')).toMatchObject({ text: '电量百分之一百' });

    await speaker.stop();
    await board.close();
    expect(chip.requested.size).toBe(0);
    expect(chip.outputs.get(27)!.at(-1)).toBe(0);
  });

  it('LED blinks fast when the broker goes away', async () => {
    const own = await startTestBroker();
    const chip = createMemoryChip();
    const { opts } = boardOptions({ gpio: memoryBackend(chip) });
    const board = await createPiBoard(opts);
    const speaker = new Speaker({
      id: 'SPK-PI-LED',
      brokerUrl: own.mqttUrl,
      lang: 'en-US',
      board,
      voice,
      settings: { prompts: false },
    });
    const events: SpeakerEvent[] = [];
    speaker.on('event', (e) => events.push(e));
    await speaker.start();
    await until(() => events.some((e) => e.event === 'online'), 'online');
    await own.close();
    await until(() => events.some((e) => e.event === 'offline'), 'offline');
    const led = chip.outputs.get(27)!;
    const before = led.length;
    await new Promise((r) => setTimeout(r, 1000));
    // offline blinks every 200 ms; connecting (while retrying) every 500 ms: either way it blinks.
    expect(led.length - before).toBeGreaterThanOrEqual(2);
    await speaker.stop();
    await board.close();
    expect(chip.requested.size).toBe(0);
  });

  it.skipIf(aplay.missing)(
    `an ALSA device that does not exist: playing fails with aplay's reason and where to look${aplay.note}`,
    async () => {
      const { opts } = boardOptions({ audio: { kind: 'player' }, pi: { audioDevice: 'no_such_pcm', gpio: false } });
      const board = await createPiBoard(opts);
      await expect(board.audio.play({ sampleRate: 8000, samples: new Int16Array(800) }, 'PAY-X')).rejects.toThrow(
        /^alsa sink: could not play "PAY-X" on ALSA device "no_such_pcm": aplay exited with 1: .*Unknown PCM no_such_pcm.* \(list devices with "aplay -L"\)$/,
      );
      await board.close();
    },
  );

  it.skipIf(aplayAndGpiod.missing || hasChip)(
    `no GPIO chip (real gpiod tools): still announces a payment through ALSA on pi.audioDevice${aplayAndGpiod.note}`,
    async () => {
      const { opts, lines } = boardOptions({
        device: 'SPK-PI-NOCHIP',
        audio: { kind: 'player' },
        pi: { audioDevice: 'pi_speaker' },
      });
      const board = await createPiBoard(opts);
      expect(board.gpio.ok).toBe(false);
      expect(board.audio.name).toBe('alsa:pi_speaker');
      expect(
        lines.some(
          (l) =>
            l.level === LEVEL.warn &&
            /^no GPIO chip found \(.*\): buttons and LED are off; audio still works$/.test(l.msg),
        ),
      ).toBe(true);

      const speaker = new Speaker({
        id: 'SPK-PI-NOCHIP',
        brokerUrl: broker.mqttUrl,
        lang: 'zh-CN',
        board,
        voice,
        settings: { prompts: false },
      });
      const link = await DeviceLink.open(broker.mqttUrl, 'SPK-PI-NOCHIP');
      await speaker.start();
      const id = await link.pay(12345);
      await until(() => link.acks.length === 1, 'the ack', 30_000);
      expect(link.ackFor(id)).toMatchObject({ status: 'played', text: '微信收款一百二十三点四五元' });
      await link.close();

      const played = decodeWav(readFileSync(capture));
      expect(nonSilentMs(played)).toBeGreaterThan(1000);
      await speaker.stop();
      await board.close();
    },
  );
});
