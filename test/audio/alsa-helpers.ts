/** Headless ALSA for tests: configs that make aplay write what it plays into a file. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];
// Registered while the importing test file is being collected, so it runs once that file is done.
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed after the test file finishes. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `payspeaker-${prefix}-`));
  made.push(dir);
  return dir;
}

/**
 * The file plugin tees PCM into `capture` and passes it on to a null device. ALSA_CONFIG_PATH
 * replaces the system alsa.conf, so `pcm.null` is not predefined and must be declared here.
 * format "wav" writes a header whose sizes are fixed up when aplay closes the device.
 */
export function writeCaptureConfig(dir: string, capture: string): string {
  const conf = path.join(dir, 'capture.conf');
  writeFileSync(
    conf,
    `pcm.null { type null }\npcm.!default { type file; slave.pcm "null"; file "${capture}"; format "wav" }\n`,
  );
  return conf;
}

/** A config with no default PCM at all: aplay fails with "Unknown PCM default". */
export function writeNoDeviceConfig(dir: string): string {
  const conf = path.join(dir, 'nodevice.conf');
  writeFileSync(conf, '# deliberately empty: no pcm.default\n');
  return conf;
}

/** Sets env vars for the duration of fn, then restores them exactly (including "was unset"). */
export async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
