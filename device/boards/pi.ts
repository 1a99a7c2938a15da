/**
 * The Raspberry Pi board: audio through ALSA, NVS in a file on the SD card, buttons and the
 * status LED on GPIO lines through libgpiod. Pins come from the device config's `pi` section
 * (schema and defaults below; wiring table in docs/RASPBERRY-PI.md).
 *
 * Without a usable GPIO chip (not a Pi, gpiod tools missing, no permission, a busy line) the
 * board warns once and runs on with buttons and LED off: a speaker that cannot read its keys
 * must still announce payments.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { openAudioOut, type AudioSpec } from '../drivers/audio/index.ts';
import type { Logger } from '../../src/log.ts';
import { createSystemClock } from '../drivers/clock.ts';
import {
  BUTTONS,
  type AudioOut,
  type Board,
  type ButtonName,
  type Clock,
  type NetworkLink,
  type StatusLed,
} from '../board.ts';
import { openFileNvs } from '../drivers/nvs-file.ts';
import { createButtonEmitter, createSimulatedLink } from '../drivers/simulated.ts';
import { BIASES, type Bias, type GpioBackend, type GpioChip } from '../drivers/gpio/chip.ts';
import { createGpiodToolsBackend } from '../drivers/gpio/gpiod-tools.ts';
import { createGpioButtons, type GpioButtons } from '../drivers/gpio/buttons.ts';
import { createGpioLed, type GpioLed } from '../drivers/gpio/led.ts';
import { systemRandom } from '../drivers/random.ts';

/** BCM numbers; lines 0-53 exist on the Pi's GPIO chip, 2-27 reach the 40-pin header. */
const pin = z
  .number({ error: 'expected a BCM GPIO number (e.g. 17), or null for "not wired"' })
  .int('expected a whole BCM GPIO number')
  .min(0, 'BCM GPIO numbers start at 0')
  .max(53, 'BCM GPIO numbers end at 53 (the header has 2-27)');

/** Buttons to GND on BCM 17, 22, 23, 24, 25; LED on BCM 27. Avoids I2S (18-21), I2C (2-3), SPI (7-11) and UART (14-15) so audio HATs still fit. */
export const PI_DEFAULTS = Object.freeze({
  chip: 'auto',
  buttons: Object.freeze({ 'volume-up': 17, 'volume-down': 22, replay: 23, summary: 24, power: 25 } satisfies Record<
    ButtonName,
    number
  >),
  led: 27,
  activeLow: true,
  ledActiveLow: false,
  debounceMs: 30,
});

const piSection = z.strictObject(
  {
    /** gpiochip0, 0, a label (pinctrl-bcm2711) or "auto" (the header's chip). */
    chip: z.string().min(1, 'expected a chip name such as gpiochip0, or "auto"').default(PI_DEFAULTS.chip),
    /** Each button's pin; null: not wired. Buttons left out keep their default pin. */
    buttons: z
      .strictObject(
        Object.fromEntries(BUTTONS.map((b) => [b, pin.nullable().optional()])) as Record<
          ButtonName,
          z.ZodOptional<z.ZodNullable<typeof pin>>
        >,
      )
      .prefault({}),
    led: pin.nullable().default(PI_DEFAULTS.led),
    /** Buttons pull the pin low when pressed (to GND, with pull-ups). */
    activeLow: z.boolean({ error: 'expected true or false' }).default(PI_DEFAULTS.activeLow),
    /** The LED lights when the pin is low (wired from 3V3). */
    ledActiveLow: z.boolean({ error: 'expected true or false' }).default(PI_DEFAULTS.ledActiveLow),
    /** Internal pull resistor for the buttons; default pull-up when activeLow, else pull-down. */
    bias: z.enum(BIASES, { error: `expected one of ${BIASES.join(', ')}` }).optional(),
    debounceMs: z
      .number({ error: 'expected milliseconds, e.g. 30' })
      .int('expected whole milliseconds')
      .min(0, 'at least 0 ms')
      .max(1000, 'at most 1000 ms')
      .default(PI_DEFAULTS.debounceMs),
    /** ALSA PCM to play on ("plughw:1,0", "default"); absent: the audio spec decides (aplay's default). */
    audioDevice: z.string().min(1, 'expected an ALSA device name such as plughw:1,0 (see aplay -L)').optional(),
    /** false: do not touch GPIO at all. */
    gpio: z.boolean({ error: 'expected true or false' }).default(true),
  },
  { error: 'expected an object such as {"buttons": {"replay": 23}, "led": 27}' },
);

export const piConfigSchema = piSection.prefault({}).transform((c, ctx) => {
  const buttons: Partial<Record<ButtonName, number>> = {};
  for (const b of BUTTONS) {
    const p = c.buttons[b] === undefined ? PI_DEFAULTS.buttons[b] : c.buttons[b];
    if (p !== null && p !== undefined) buttons[b] = p;
  }
  const owners = new Map<number, string>();
  for (const [name, p] of [...Object.entries(buttons), ['led', c.led] as const]) {
    if (p === null || p === undefined) continue;
    const other = owners.get(p);
    if (other)
      ctx.addIssue({
        code: 'custom',
        path: [name === 'led' ? 'led' : 'buttons'],
        message: `BCM ${p} is used by both ${other} and ${name}: give each its own pin`,
      });
    owners.set(p, name);
  }
  return { ...c, buttons, bias: c.bias ?? ((c.activeLow ? 'pull-up' : 'pull-down') as Bias) };
});

export type PiConfig = z.output<typeof piConfigSchema>;

/** Parses the device config's `pi` section (undefined: all defaults). Throws an Error naming the key and what to write. */
export function parsePiConfig(raw: unknown, where = 'pi'): PiConfig {
  const parsed = piConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = [where, ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = issue.path.at(-1) === 'buttons' ? BUTTONS : Object.keys(piSection.shape);
    throw new Error(
      `device config ${key}: unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}; expected ${known.join(', ')}`,
    );
  }
  const got =
    issue.code === 'invalid_type' || issue.code === 'too_small' || issue.code === 'too_big'
      ? `, got ${JSON.stringify(valueAt(raw, issue.path))}`
      : '';
  throw new Error(`device config ${key}: ${issue.message}${got}; see docs/RASPBERRY-PI.md for the wiring and defaults`);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined),
    root,
  );
}

export interface PiBoardOptions {
  device: string;
  log: Logger;
  /** The NVS file (volume, payment ids, today's totals). */
  nvsFile: string;
  /** The `pi` section of the device config as it is in device.json (undefined: all defaults); checked here with parsePiConfig. */
  pi?: unknown;
  /** Default player (aplay on ALSA's default device); `pi.audioDevice` picks another ALSA device. */
  audio?: AudioSpec;
  /** Where `auto` writes WAVs without a sound device. */
  fallbackDir?: string;
  /** Default: libgpiod's tools. Tests pass an in-memory chip. */
  gpio?: GpioBackend;
  clock?: Clock;
}

export type GpioStatus =
  | { ok: true; chip: string; buttons: Partial<Record<ButtonName, number>>; led: number | null }
  | { ok: false; reason: string };

export interface PiBoard extends Board {
  /** Whether buttons and LED are live, and if not why. */
  readonly gpio: GpioStatus;
}

const dark: StatusLed = { set: () => undefined };

export async function createPiBoard(opts: PiBoardOptions): Promise<PiBoard> {
  const config = parsePiConfig(opts.pi);
  const audio = await openAudio(opts, config);
  const nvs = await openFileNvs(opts.nvsFile, { log: opts.log });
  const hw = await openGpio(opts, config);
  return {
    name: 'pi',
    audio,
    clock: opts.clock ?? createSystemClock(),
    nvs,
    buttons: hw.buttons ?? createButtonEmitter(),
    led: hw.led ?? dark,
    // Pi on mains power: the power key reports a full battery rather than a drain that is not there.
    battery: { percent: () => 100 },
    link: createWifiLink(),
    random: systemRandom,
    gpio: hw.status,
    async close() {
      await hw.buttons?.close();
      await hw.led?.close();
      await audio.close();
      await nvs.close();
    },
  };
}

async function openAudio(opts: PiBoardOptions, config: PiConfig): Promise<AudioOut> {
  const asked = opts.audio ?? { kind: 'player' };
  // pi.audioDevice names the card the speaker is wired to: the player and `auto` mean that one.
  const spec: AudioSpec =
    config.audioDevice && (asked.kind === 'player' || asked.kind === 'auto')
      ? { kind: 'alsa', device: config.audioDevice }
      : asked;
  return openAudioOut(spec, { log: opts.log, fallbackDir: opts.fallbackDir });
}

interface Hardware {
  status: GpioStatus;
  buttons: GpioButtons | null;
  led: GpioLed | null;
}

async function openGpio(opts: PiBoardOptions, config: PiConfig): Promise<Hardware> {
  const off = (reason: string): Hardware => {
    opts.log.warn({ reason }, `${reason}: buttons and LED are off; audio still works`);
    return { status: { ok: false, reason }, buttons: null, led: null };
  };
  if (!config.gpio) return off('GPIO disabled in the device config (pi.gpio: false)');
  const backend = opts.gpio ?? createGpiodToolsBackend();
  let chip: GpioChip;
  try {
    chip = await backend.openChip(config.chip);
  } catch (err) {
    return off(`no GPIO chip found (${(err as Error).message})`);
  }
  const beyond = [...Object.values(config.buttons), config.led].find(
    (p) => p !== null && p !== undefined && p >= chip.lines,
  );
  if (beyond !== undefined)
    return off(
      `BCM ${beyond} does not exist on ${chip.name} (${chip.lines} lines); fix the pins in the device config's pi section`,
    );
  const onFailure = (what: string) => (err: Error) => opts.log.warn({ err: err.message }, `${what}: ${err.message}`);
  let buttons: GpioButtons | null = null;
  try {
    buttons = await createGpioButtons(chip, {
      pins: config.buttons,
      activeLow: config.activeLow,
      bias: config.bias,
      debounceMs: config.debounceMs,
      onFailure: onFailure('buttons'),
    });
    const led =
      config.led === null
        ? null
        : await createGpioLed(chip, {
            offset: config.led,
            activeLow: config.ledActiveLow,
            onFailure: onFailure('status LED'),
          });
    opts.log.info(
      { chip: chip.name, label: chip.label, buttons: config.buttons, led: config.led },
      `GPIO on ${chip.name} [${chip.label}] via ${backend.name}`,
    );
    return { status: { ok: true, chip: chip.name, buttons: config.buttons, led: config.led }, buttons, led };
  } catch (err) {
    await buttons?.close(); // the LED failed after the buttons were taken: give their lines back
    return off(`GPIO lines on ${chip.name} could not be requested (${(err as Error).message})`);
  }
}

/**
 * Signal strength from /proc/net/wireless (the Pi's Wi-Fi); on Ethernet or elsewhere the
 * simulated radio stands in, so telemetry keeps its shape.
 */
function createWifiLink(read: () => string = () => readFileSync('/proc/net/wireless', 'utf8')): NetworkLink {
  const fallback = createSimulatedLink();
  return {
    signalDbm() {
      try {
        // "wlan0: 0000   70.  -40.  -256 …": status, link quality, level (dBm), noise.
        const m = /^\s*\w+:\s+\S+\s+\S+\s+(-\d+)\./m.exec(read());
        if (m) return Number(m[1]);
      } catch {
        // not Linux, or no wireless extensions
      }
      return fallback.signalDbm();
    },
  };
}
