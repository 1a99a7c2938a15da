/**
 * Crash safety of the file NVS with a real process and a real SIGKILL: a writer loops
 * `set({ n, ids })` and prints n after each durable write; we kill it at seeded random moments
 * (some during start-up, most mid-write) and, after every kill, the file must parse, hold one
 * whole write (every id carries the same n) and be at least as new as the last n printed.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openFileNvs } from '../../device/drivers/nvs-file.ts';
import { captureLog, LEVEL } from '../fixtures/capture-log.ts';
import { seededRandom } from '../fixtures/random.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const WRITER = path.join(ROOT, 'test/fixtures/nvs-writer.ts');
const ROUNDS = 25;
const SEED = 0x5eed;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'payspeaker-nvs-kill-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Round {
  printed: number[];
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the writer once and SIGKILLs it `killAfterMs` after its start (or its first print). */
function runAndKill(file: string, killAfterMs: number, fromFirstPrint: boolean): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const round: Round = { printed: [], signal: null, stderr: '' };
    const kill = () => setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    // A writer that never gets going must not hang the suite.
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 15_000);
    if (!fromFirstPrint) kill();
    child.stderr.on('data', (d: Buffer) => (round.stderr += d));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (fromFirstPrint && round.printed.length === 0) kill();
      round.printed.push(Number(line));
    });
    child.on('error', reject);
    // 'close', not 'exit': every line the child managed to print has been read by then.
    child.on('close', (_code, signal) => {
      clearTimeout(watchdog);
      round.signal = signal;
      resolve(round);
    });
  });
}

/** What a reboot would find: the raw file must parse and hold one whole write. */
async function inspect(file: string): Promise<number> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0; // killed before its first write ever landed
    throw err;
  }
  const doc = JSON.parse(raw) as { format: number; values: { n: number; ids: string[] } };
  expect(doc.format).toBe(1);
  const { n, ids } = doc.values;
  expect(ids).toHaveLength(1000);
  expect(ids.every((id) => id.startsWith(`${n}-`))).toBe(true);
  return n;
}

it(`survives ${ROUNDS} SIGKILLs at random moments without losing a durable write`, async () => {
  const file = path.join(dir, 'nvs.json');
  const random = seededRandom(SEED);
  let lastPrinted = 0;
  let midWriteKills = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // One round in five dies during start-up (open, temp clean-up); the rest mid-loop.
    const duringStartup = random() < 0.2;
    const killAfterMs = Math.floor(random() * (duringStartup ? 500 : 150));
    const result = await runAndKill(file, killAfterMs, !duringStartup);
    expect(result.signal, `round ${round}: the writer died by itself\n${result.stderr}`).toBe('SIGKILL');
    if (result.printed.length > 0) midWriteKills += 1;
    lastPrinted = Math.max(lastPrinted, ...result.printed);

    const n = await inspect(file);
    expect(n, `round ${round} (kill after ${killAfterMs} ms)`).toBeGreaterThanOrEqual(lastPrinted);

    // Reopening as the firmware would: no corruption warning, and the temp debris is gone.
    const { log, lines } = captureLog();
    const nvs = await openFileNvs(file, { log });
    expect(lines.filter((l) => l.level >= LEVEL.warn)).toEqual([]);
    expect(nvs.get<number>('n') ?? 0).toBe(n);
    await nvs.close();
    expect((await readdir(dir)).filter((name) => name !== 'nvs.json')).toEqual([]);
  }
  // The schedule really did kill writers that were writing, not only idle start-ups.
  expect(midWriteKills).toBeGreaterThan(ROUNDS / 2);
  expect(lastPrinted).toBeGreaterThan(0);
}, 45_000); // ~10 s on an idle 2-core machine
