/**
 * The libgpiod-tools chip driver's process handling. Where the real gpiod tools can answer
 * here they do: this machine has no GPIO chip, so the real gpiodetect finds none and the real
 * gpiomon/gpioset fail to open one — the "buttons off" path. Command lines, output parsing, line
 * holding and release run against fake gpiodetect/gpiomon/gpioset scripts on PATH that print
 * libgpiod 1.6's exact formats (test/fixtures/fake-gpiod/).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../support/mqtt.ts';
import { needs } from '../support/prerequisites.ts';
import { GpioUnavailableError, type LineEdge } from '../../device/drivers/gpio/chip.ts';
import {
  createGpiodToolsBackend,
  listChips,
  parseGpiodetect,
  parseGpiomonLine,
} from '../../device/drivers/gpio/gpiod-tools.ts';

const FAKE_BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/fake-gpiod/bin');
const gpiod = needs('gpiod');
const hasChip = existsSync('/dev') && readdirSync('/dev').some((n) => n.startsWith('gpiochip'));

const tmp = mkdtempSync(path.join(os.tmpdir(), 'payspeaker-gpiod-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function fakeEnv(vars: Record<string, string> = {}) {
  const logFile = path.join(tmp, `log-${++n}.jsonl`);
  const env = {
    ...process.env,
    PATH: `${FAKE_BIN}${path.delimiter}${process.env.PATH}`,
    FAKE_GPIOD_LOG: logFile,
    FAKE_GPIOD_CHIPS: 'gpiochip0,pinctrl-bcm2711,58;gpiochip1,raspberrypi-exp-gpio,8',
    ...vars,
  };
  const entries = () =>
    existsSync(logFile)
      ? readFileSync(logFile, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { tool: string; pid: number; args: string[]; event: string })
      : [];
  return { env, entries };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the real gpiod tools on a machine without a GPIO chip', () => {
  it.skipIf(gpiod.missing || hasChip)(
    `gpiodetect finds no chip: a GpioUnavailableError that says so${gpiod.note}`,
    async () => {
      const err = await listChips().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GpioUnavailableError);
      expect((err as Error).message).toBe(
        'gpiodetect found no GPIO chip (no /dev/gpiochip* device: is this a Raspberry Pi?)',
      );
    },
  );

  it.skipIf(gpiod.missing || hasChip)(
    `the real gpiomon and gpioset cannot open gpiochip0: the request rejects with their own message${gpiod.note}`,
    async () => {
      // Only gpiodetect is faked here (one chip, as on a Pi 4); gpiomon and gpioset are the real ones.
      const bin = mkdtempSync(path.join(tmp, 'detect-only-'));
      writeFileSync(path.join(bin, 'gpiodetect'), `#!/bin/sh\nexec "${path.join(FAKE_BIN, 'gpiodetect')}"\n`, {
        mode: 0o755,
      });
      const env = {
        ...process.env,
        PATH: `${bin}${path.delimiter}${process.env.PATH}`,
        FAKE_GPIOD_CHIPS: 'gpiochip0,pinctrl-bcm2711,58',
      };
      const chip = await createGpiodToolsBackend({ env }).openChip('auto');
      expect(chip).toMatchObject({ name: 'gpiochip0', label: 'pinctrl-bcm2711', lines: 58 });
      await expect(
        chip.watch([17], { bias: 'pull-up', onEdge: () => undefined, onFailure: () => undefined }),
      ).rejects.toThrow(
        /gpiomon -b -B pull-up -F %o %e %s %n gpiochip0 17 failed at start: gpiomon: error waiting for events: No such file or directory/,
      );
      await expect(chip.output(27, { initial: 0, onFailure: () => undefined })).rejects.toThrow(
        /gpioset --mode=signal gpiochip0 27=0 failed at start: gpioset: error setting the GPIO line values/,
      );
    },
  );

  it('tools missing from PATH: says to install them', async () => {
    const err = await listChips({ PATH: mkdtempSync(path.join(tmp, 'empty-')) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpioUnavailableError);
    expect((err as Error).message).toBe(
      'the gpiod tools are not installed (gpiodetect is not on PATH): sudo apt install gpiod',
    );
  });
});

describe('parsing libgpiod 1.6 output', () => {
  it('gpiodetect lines', () => {
    expect(
      parseGpiodetect('gpiochip0 [pinctrl-bcm2711] (58 lines)\ngpiochip1 [raspberrypi-exp-gpio] (8 lines)\n'),
    ).toEqual([
      { name: 'gpiochip0', label: 'pinctrl-bcm2711', lines: 58 },
      { name: 'gpiochip1', label: 'raspberrypi-exp-gpio', lines: 8 },
    ]);
    expect(parseGpiodetect('')).toEqual([]);
  });

  it('gpiomon lines, in our -F format and in the default one', () => {
    expect(parseGpiomonLine('17 0 1234 567890123')).toEqual({ offset: 17, level: 0, atMs: 1234567.890123 });
    expect(parseGpiomonLine('22 1 5 12000000')).toEqual({ offset: 22, level: 1, atMs: 5012 });
    expect(parseGpiomonLine('event: FALLING EDGE offset: 23 timestamp: [    1234.005000000]')).toEqual({
      offset: 23,
      level: 0,
      atMs: 1234005,
    });
    expect(parseGpiomonLine('event:  RISING EDGE offset: 23 timestamp: [       1.000000000]')).toEqual({
      offset: 23,
      level: 1,
      atMs: 1000,
    });
    expect(parseGpiomonLine('gpiomon: error waiting for events: Device or resource busy')).toBeNull();
  });
});

describe('the tools driver against fake 1.6 tools on PATH', () => {
  it('chooses the Pi header chip for "auto", a named one on request, and lists what exists when the name is wrong', async () => {
    const { env } = fakeEnv({ FAKE_GPIOD_CHIPS: 'gpiochip0,raspberrypi-exp-gpio,8;gpiochip4,pinctrl-rp1,54' });
    const backend = createGpiodToolsBackend({ env });
    expect(await backend.openChip('auto')).toMatchObject({ name: 'gpiochip4', label: 'pinctrl-rp1', lines: 54 });
    expect(await backend.openChip('0')).toMatchObject({ name: 'gpiochip0' });
    await expect(backend.openChip('gpiochip9')).rejects.toThrow(
      'no GPIO chip "gpiochip9" (found: gpiochip0 [raspberrypi-exp-gpio] (8 lines), gpiochip4 [pinctrl-rp1] (54 lines)); set pi.chip to one of them or "auto"',
    );
  });

  it('watch: runs gpiomon line-buffered with the bias and our format, delivers its edges, and close ends it', async () => {
    const { env, entries } = fakeEnv({ FAKE_GPIOMON_EVENTS: '50:17:0,80:17:1,100:22:0' });
    const chip = await createGpiodToolsBackend({ env, startupMs: 1500 }).openChip('auto');
    const edges: LineEdge[] = [];
    const failures: Error[] = [];
    const watch = await chip.watch([17, 22], {
      bias: 'pull-up',
      onEdge: (e) => edges.push(e),
      onFailure: (e) => failures.push(e),
    });
    await until(() => edges.length === 3, 'three edges');
    expect(edges.map(({ offset, level }) => ({ offset, level }))).toEqual([
      { offset: 17, level: 0 },
      { offset: 17, level: 1 },
      { offset: 22, level: 0 },
    ]);
    // Timestamps from gpiomon's %s %n: the edges on line 17 were 30 ms apart.
    expect(edges[1]!.atMs - edges[0]!.atMs).toBe(30);
    const [start] = entries();
    expect(start).toMatchObject({
      tool: 'gpiomon',
      event: 'start',
      args: ['-b', '-B', 'pull-up', '-F', '%o %e %s %n', 'gpiochip0', '17', '22'],
    });
    await watch.close();
    expect(entries().at(-1)).toMatchObject({ tool: 'gpiomon', event: 'exit', signal: 'SIGTERM' });
    expect(alive(start!.pid)).toBe(false);
    expect(failures).toEqual([]); // a requested stop is not a failure
  });

  it("watch: a busy line rejects at start with gpiomon's message; a later death is reported as a failure", async () => {
    const busy = fakeEnv({ FAKE_GPIOD_BUSY: '22' });
    const chip = await createGpiodToolsBackend({ env: busy.env, startupMs: 5000 }).openChip('auto'); // it fails long before
    await expect(
      chip.watch([17, 22], { bias: 'as-is', onEdge: () => undefined, onFailure: () => undefined }),
    ).rejects.toThrow(
      'gpiomon -b -F %o %e %s %n gpiochip0 17 22 failed at start: gpiomon: error waiting for events: Device or resource busy',
    );

    const dying = fakeEnv({ FAKE_GPIOMON_DIE_MS: '100' });
    const chip2 = await createGpiodToolsBackend({ env: dying.env, startupMs: 50 }).openChip('auto');
    const failures: Error[] = [];
    const watch = await chip2.watch([17], {
      bias: 'as-is',
      onEdge: () => undefined,
      onFailure: (e) => failures.push(e),
    });
    await until(() => failures.length === 1, 'the failure');
    expect(failures[0]!.message).toBe(
      'gpiomon stopped: gpiomon: error waiting for events: No such device; the buttons no longer work until the speaker restarts',
    );
    await watch.close();
  });

  it('output: gpioset --mode=signal holds the level; a new level replaces the process, never two at once; close releases', async () => {
    const { env, entries } = fakeEnv();
    const chip = await createGpiodToolsBackend({ env, startupMs: 1500 }).openChip('gpiochip0');
    const failures: Error[] = [];
    const line = await chip.output(27, { initial: 0, onFailure: (e) => failures.push(e) });
    line.set(1);
    await until(() => entries().filter((e) => e.event === 'start').length === 2, 'the second gpioset');
    // Levels set while a restart is under way collapse into the latest.
    line.set(0);
    line.set(1);
    line.set(0);
    await until(
      () =>
        entries()
          .filter((e) => e.event === 'start')
          .at(-1)!.args[2] === '27=0',
      'gpioset holding 0 again',
    );
    await line.close(0);
    const log = entries();
    const starts = log.filter((e) => e.event === 'start').map((e) => e.args);
    expect(starts[0]).toEqual(['--mode=signal', 'gpiochip0', '27=0']);
    expect(starts[1]).toEqual(['--mode=signal', 'gpiochip0', '27=1']);
    expect(starts.at(-1)).toEqual(['--mode=signal', 'gpiochip0', '27=0']);
    expect(starts.length).toBeLessThanOrEqual(4);
    // One holder at a time: every start comes after the previous holder's exit.
    let holding = 0;
    for (const e of log) {
      holding += e.event === 'start' ? 1 : -1;
      expect(holding).toBeLessThanOrEqual(1);
    }
    expect(holding).toBe(0);
    expect(log.every((e) => !alive(e.pid))).toBe(true);
    expect(failures).toEqual([]);
  });

  it("output: a busy LED line rejects at start with gpioset's message", async () => {
    const { env } = fakeEnv({ FAKE_GPIOD_BUSY: '27' });
    const chip = await createGpiodToolsBackend({ env, startupMs: 5000 }).openChip('auto'); // it fails long before
    await expect(chip.output(27, { initial: 0, onFailure: () => undefined })).rejects.toThrow(
      'gpioset --mode=signal gpiochip0 27=0 failed at start: gpioset: error setting the GPIO line values: Device or resource busy',
    );
  });
});
