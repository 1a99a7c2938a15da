/**
 * Crash safety of the file NVS with a real process and a real SIGKILL: a writer loops one write
 * per step n (many keys set, one deleted) and prints n after each durable write; we kill it at
 * seeded random moments (some during start-up, most mid-write, and with a small compaction
 * limit many mid-compaction) and, after every kill, a reboot must find one whole write (every
 * group key carries the same n, exactly n's window of items) at least as new as the last n
 * printed, with no corruption warning.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
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
/** Keys rewritten by every step and items kept (see nvs-writer.ts): a ~45 KB store, ~1.3 KB a write. */
const GROUP = 40;
const WINDOW = 100;
/**
 * One round in three compacts every few writes (kills land mid-append, replays are long); the
 * others compact on every write (kills land mid-compaction). A SIGKILL cannot cut a write() to a
 * regular file short, so torn journal lines come from power cuts: nvs.test.ts cuts a journal at
 * every byte of its last line instead.
 */
const COMPACT_AT_BYTES = [4 * 1024, 0, 0];

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
function runAndKill(file: string, compactAt: number, killAfterMs: number, fromFirstPrint: boolean): Promise<Round> {
  return new Promise((resolve, reject) => {
    const args = [WRITER, file, String(GROUP), String(WINDOW), String(compactAt)];
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

/** What the kill left: the step a reboot finds, and whether the kill came mid-compaction. */
interface Found {
  n: number;
  /** A compaction's temp file was left (killed before its rename), or the snapshot already held every journal line (killed before the journal was cut). */
  midCompaction: boolean;
}

/** Reboots as the firmware would and checks that the store holds one whole write. */
async function inspect(file: string): Promise<Found> {
  const left = await readdir(dir);
  const snapshot = left.includes('nvs.json')
    ? (JSON.parse(await readFile(file, 'utf8')) as { format: number; values: { n?: number } })
    : null;
  // The snapshot is only ever replaced by a rename: if it is there, it is whole.
  if (snapshot) expect(snapshot.format).toBe(1);
  const journalBytes = left.includes('nvs.json.log') ? (await stat(`${file}.log`)).size : 0;
  const { log, lines } = captureLog();
  const nvs = await openFileNvs(file, { log });
  expect(lines.filter((l) => l.level >= LEVEL.warn)).toEqual([]);
  const n = nvs.get<number>('n') ?? 0;
  const group = Array.from({ length: GROUP }, (_, g) => nvs.get(`group.${g}`));
  expect(group).toEqual(Array.from({ length: GROUP }, (_, g) => (n === 0 ? undefined : `${n}-${g}`)));
  const items = nvs.keys('item.').map((key) => Number(key.slice('item.'.length)));
  const first = Math.max(1, n - WINDOW + 1);
  expect(items.sort((a, b) => a - b)).toEqual(Array.from({ length: n - first + 1 }, (_, i) => first + i));
  for (const k of items) expect(nvs.get<string>(`item.${k}`)!.startsWith(`${k}:`)).toBe(true);
  await nvs.close();
  // The temp debris is gone; nothing was set aside as corrupt.
  expect((await readdir(dir)).filter((name) => name !== 'nvs.json' && name !== 'nvs.json.log')).toEqual([]);
  const beforeCut = n > 0 && journalBytes > 0 && snapshot?.values.n === n;
  return { n, midCompaction: beforeCut || left.some((name) => name.includes('.tmp-')) };
}

it(`survives ${ROUNDS} SIGKILLs at random moments, mid-append and mid-compaction, without losing a durable write`, async () => {
  const file = path.join(dir, 'nvs.json');
  const random = seededRandom(SEED);
  let lastPrinted = 0;
  let lastFound = 0;
  let midWriteKills = 0;
  let midCompactionKills = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // One round in five dies during start-up (open, temp clean-up); the rest mid-loop.
    const duringStartup = random() < 0.2;
    const killAfterMs = Math.floor(random() * (duringStartup ? 500 : 150));
    const compactAt = COMPACT_AT_BYTES[round % COMPACT_AT_BYTES.length]!;
    const result = await runAndKill(file, compactAt, killAfterMs, !duringStartup);
    expect(result.signal, `round ${round}: the writer died by itself\n${result.stderr}`).toBe('SIGKILL');
    if (result.printed.length > 0) midWriteKills += 1;
    lastPrinted = Math.max(lastPrinted, ...result.printed);

    const found = await inspect(file);
    const where = `round ${round} (kill after ${killAfterMs} ms, compaction at ${compactAt} bytes)`;
    expect(found.n, where).toBeGreaterThanOrEqual(lastPrinted);
    // At most the one write in flight when the kill came landed unannounced.
    expect(found.n, where).toBeLessThanOrEqual(Math.max(lastPrinted, lastFound) + 1);
    lastFound = found.n;
    if (found.midCompaction) midCompactionKills += 1;
  }
  console.log(
    `nvs-kill: ${midWriteKills} kills mid-loop, ${midCompactionKills} of them mid-compaction; last n ${lastPrinted}`,
  );
  // The schedule really did kill writers that were writing, not only idle start-ups, and some
  // mid-compaction (most kills in a round that compacts on every write).
  expect(midWriteKills).toBeGreaterThan(ROUNDS / 2);
  expect(midCompactionKills).toBeGreaterThan(0);
  expect(lastPrinted).toBeGreaterThan(0);
}, 45_000); // ~10 s on an idle 2-core machine
