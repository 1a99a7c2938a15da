/**
 * NVS drivers through their public interface: the contract every driver keeps (memory, file, IndexedDB), the core's
 * bookkeeping of changes (through a driver of our own), then the file driver's own duties
 * (journal and snapshot, atomic writes, coalescing, compaction, recovery from crashes and
 * corruption, stale temps and write errors) against a real temp directory.
 */
import { appendFile, mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { crc32 } from 'node:zlib';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StagedNvs, type Nvs, type NvsChanges } from '../../device/drivers/nvs.ts';
import { JOURNAL_LIMIT_BYTES, NVS_FORMAT, openFileNvs, type FileNvsOptions } from '../../device/drivers/nvs-file.ts';
import { createMemoryNvs } from '../../device/drivers/nvs-memory.ts';
import { openIndexedDbNvs } from '../../device/drivers/browser/nvs-indexeddb.ts';
import { IDBFactory } from 'fake-indexeddb';
import { captureLog, LEVEL } from '../fixtures/capture-log.ts';

let dir: string;
let file: string;
let journal: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'payspeaker-nvs-'));
  file = path.join(dir, 'nvs.json');
  journal = `${file}.log`;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readDoc(target = file): Promise<{ format: number; values: Record<string, unknown> }> {
  return JSON.parse(await readFile(target, 'utf8')) as { format: number; values: Record<string, unknown> };
}

/** The journal's lines, parsed, each checked against its CRC-32 (zlib's, an independent oracle). */
async function readJournal(): Promise<{ s: Record<string, unknown>; d: string[] }[]> {
  const text = await readFile(journal, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [json, crc] = line.split('\t');
      expect(crc).toBe(crc32(Buffer.from(json!, 'utf8')).toString(16).padStart(8, '0'));
      return JSON.parse(json!) as { s: Record<string, unknown>; d: string[] };
    });
}

/** What a reboot finds: every key and value of the store opened afresh. */
async function reboot(target = file): Promise<Record<string, unknown>> {
  const nvs = await openFileNvs(target);
  const values = Object.fromEntries(nvs.keys().map((key) => [key, nvs.get(key)]));
  await nvs.close();
  return values;
}

/** Opens a file NVS that counts its durable writes and its compactions. */
async function countingNvs(
  opts: FileNvsOptions = {},
): Promise<{ nvs: Nvs; writes: () => number; compactions: () => number }> {
  let writes = 0;
  let compactions = 0;
  const onWrite = (w: { compacted: boolean }) => {
    writes += 1;
    if (w.compacted) compactions += 1;
  };
  const nvs = await openFileNvs(file, { ...opts, onWrite });
  return { nvs, writes: () => writes, compactions: () => compactions };
}

const drivers: [string, (initial?: Record<string, unknown>) => Promise<Nvs>][] = [
  ['memory', async (initial) => createMemoryNvs(initial)],
  [
    'file',
    async (initial) => {
      const nvs = await openFileNvs(file);
      if (initial) await nvs.set(initial);
      return nvs;
    },
  ],
  [
    // The browser board's driver, on fake-indexeddb (a fresh database per test); it runs on
    // Chromium's real IndexedDB in the console tests.
    'IndexedDB',
    async (initial) => {
      const nvs = await openIndexedDbNvs('payspeaker-nvs-contract', new IDBFactory());
      if (initial) await nvs.set(initial);
      return nvs;
    },
  ],
];

describe.each(drivers)('%s NVS contract', (_name, open) => {
  it('answers get() from memory as soon as set() is called', async () => {
    const nvs = await open({ a: 1 });
    expect(nvs.get<number>('a')).toBe(1);
    expect(nvs.get('missing')).toBeUndefined();
    const pending = nvs.set({ a: 2, b: 'two' });
    expect(nvs.get<number>('a')).toBe(2);
    await pending;
    await nvs.close();
  });

  it('stores a frozen copy: later changes to the caller’s object do not leak in', async () => {
    const nvs = await open();
    const ids = ['p1', 'p2'];
    await nvs.set({ ids, today: { date: '2026-11-24', totals: { INR: 100 } } });
    ids.push('p3');
    expect(nvs.get<string[]>('ids')).toEqual(['p1', 'p2']);
    expect(Object.isFrozen(nvs.get('ids'))).toBe(true);
    expect(() => nvs.get<{ totals: { INR: number } }>('today')!.totals.INR++).toThrow(TypeError);
    await nvs.close();
  });

  it.each([
    ['a function', () => 1, 'a function'],
    ['undefined', undefined, 'undefined'],
    ['a BigInt', 10n, 'a BigInt'],
    ['NaN', Number.NaN, 'NaN'],
    ['Infinity', Number.POSITIVE_INFINITY, 'Infinity'],
    ['a symbol', Symbol('x'), 'a symbol'],
    ['a Date', new Date(0), 'a Date'],
    ['a Map', new Map(), 'a Map'],
  ])('rejects %s with an error naming the key, and stages nothing', async (_what, bad, said) => {
    const nvs = await open({ good: 1 });
    const attempt = nvs.set({ good: 2, nested: { list: [1, bad] } });
    await expect(attempt).rejects.toThrow(TypeError);
    await expect(attempt).rejects.toThrow(`cannot store ${said} at "nested.list[1]"`);
    expect(nvs.get('good')).toBe(1);
    expect(nvs.get('nested')).toBeUndefined();
    await nvs.close();
  });

  it('rejects a cycle but accepts the same object twice', async () => {
    const nvs = await open();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(nvs.set({ cyclic })).rejects.toThrow('circular reference at "cyclic.self"');
    const shared = { x: 1 };
    await nvs.set({ pair: [shared, shared] });
    expect(nvs.get('pair')).toEqual([{ x: 1 }, { x: 1 }]);
    await nvs.close();
  });

  it('keeps a __proto__ key as data without polluting prototypes', async () => {
    const nvs = await open();
    const hostile = JSON.parse(
      '{"__proto__": {"polluted": true}, "inner": {"__proto__": {"polluted": true}}}',
    ) as Record<string, unknown>;
    await nvs.set(hostile);
    expect(nvs.get('__proto__')).toEqual({ polluted: true });
    const inner = nvs.get<Record<string, unknown>>('inner')!;
    expect(Object.getPrototypeOf(inner)).toBe(Object.prototype);
    expect(Object.keys(inner)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await nvs.close();
  });

  it('close() waits for pending writes; set() afterwards is refused, get() still answers', async () => {
    const nvs = await open();
    const pending = nvs.set({ v: 7 });
    await nvs.close();
    await expect(pending).resolves.toBeUndefined();
    await expect(nvs.set({ v: 8 })).rejects.toThrow('is closed');
    expect(nvs.get('v')).toBe(7);
  });

  it('deletes keys durably, a missing one included, and lists keys in first-set order by prefix', async () => {
    const nvs = await open({ a: 1, 'inbox.1': 'x', 'inbox.2': 'y', b: 2 });
    expect(nvs.keys()).toEqual(['a', 'inbox.1', 'inbox.2', 'b']);
    expect(nvs.keys('inbox.')).toEqual(['inbox.1', 'inbox.2']);
    expect(nvs.keys('nothing.')).toEqual([]);
    const pending = nvs.delete(['inbox.1', 'never-there']);
    expect(nvs.get('inbox.1')).toBeUndefined(); // gone from memory at once
    await expect(pending).resolves.toBeUndefined();
    await nvs.set({ 'inbox.1': 'again', a: 3 }); // set again: to the end; overwritten: stays put
    expect(nvs.keys()).toEqual(['a', 'inbox.2', 'b', 'inbox.1']);
    await nvs.close();
    await expect(nvs.delete(['a'])).rejects.toThrow('delete() after close()');
  });

  it.each([
    ['a key that is not in an array', 'a', 'takes an array of keys, got string'],
    ['a key that is not a string', ['a', 5], 'keys are strings, got number 5'],
    ['the empty key', ['a', ''], '"" is not a key'],
  ])('rejects delete() of %s, and stages nothing', async (_what, keys, said) => {
    const nvs = await open({ a: 1 });
    await expect(nvs.delete(keys as string[])).rejects.toThrow(said);
    expect(nvs.get('a')).toBe(1);
    await nvs.close();
  });
});

/** What a driver was handed, in plain shapes for toEqual. */
interface Handed {
  set: Record<string, unknown>;
  deleted: string[];
}

/**
 * A driver of our own around the real core: it records what each write is handed and fails the
 * writes the test asks it to. This is how any driver sees the core.
 */
function recordingNvs(initial: Record<string, unknown> = {}) {
  const handed: Handed[] = [];
  let failures = 0;
  let gate: Promise<void> | null = null;
  let onPersist: (changes: NvsChanges) => void = () => undefined;
  const nvs = new StagedNvs(
    'recording NVS',
    async (changes) => {
      handed.push({ set: Object.fromEntries(changes.set), deleted: [...changes.deleted].sort() });
      await gate;
      onPersist(changes);
      if (failures > 0) {
        failures -= 1;
        throw new Error('ENOSPC: no space left on device');
      }
    },
    Object.entries(initial),
  );
  return {
    nvs,
    handed,
    failNext: (n = 1) => void (failures = n),
    holdWrites: (until: Promise<void>) => void (gate = until),
    whilePersisting: (fn: (changes: NvsChanges) => void) => void (onPersist = fn),
  };
}

describe('the core hands drivers changes, not the whole store', () => {
  it('hands each write only what changed since the last one, a turn’s sets and deletes together', async () => {
    const { nvs, handed } = recordingNvs({ old: 0 });
    await nvs.set({ a: 1, b: 1 });
    // One turn: a payment moves from inbox to handled. It must be one write.
    await Promise.all([nvs.delete(['old', 'a']), nvs.set({ 'handled.7': true, b: 2 })]);
    expect(handed).toEqual([
      { set: { a: 1, b: 1 }, deleted: [] },
      { set: { 'handled.7': true, b: 2 }, deleted: ['a', 'old'] },
    ]);
    await nvs.close();
  });

  it('folds a set and a delete of one key into its last change', async () => {
    const { nvs, handed } = recordingNvs();
    const calls = [nvs.set({ a: 1 }), nvs.delete(['a']), nvs.delete(['b']), nvs.set({ b: 2 })];
    await Promise.all(calls);
    expect(handed).toEqual([{ set: { b: 2 }, deleted: ['a'] }]);
    await nvs.close();
  });

  it('gives a write its own snapshot even when newer changes are staged meanwhile', async () => {
    const { nvs, holdWrites, whilePersisting } = recordingNvs({ keep: 1, gone: 1, changed: 1 });
    let release!: () => void;
    holdWrites(new Promise((r) => (release = r)));
    let snapshot: Map<string, unknown> | undefined;
    let takeLater!: () => unknown;
    whilePersisting((changes) => {
      snapshot ??= changes.snapshot();
      takeLater = () => changes.snapshot();
    });
    const first = Promise.all([nvs.set({ changed: 2, added: 2 }), nvs.delete(['gone'])]);
    await new Promise((r) => setImmediate(r)); // the write is in flight
    const second = Promise.all([nvs.set({ changed: 3, gone: 3, later: 3 }), nvs.delete(['keep'])]);
    release();
    await Promise.all([first, second]);
    expect(Object.fromEntries(snapshot!)).toEqual({ keep: 1, changed: 2, added: 2 });
    expect(takeLater).toThrow('snapshot() called after its write settled');
    await nvs.close();
  });

  it('keeps a failed write’s changes staged; the next write carries them, newer changes winning', async () => {
    const { nvs, handed, failNext, holdWrites } = recordingNvs({ x: 0, y: 0 });
    let release!: () => void;
    holdWrites(new Promise((r) => (release = r)));
    failNext();
    const failed = Promise.all([nvs.set({ a: 1, b: 1, c: 1 }), nvs.delete(['x', 'y'])]);
    await new Promise((r) => setImmediate(r)); // the write that will fail is in flight
    // Staged while it fails: a set of a key it sets, a delete of a key it sets, a set of a key it deletes.
    const meanwhile = Promise.all([nvs.set({ a: 2, y: 2 }), nvs.delete(['b'])]);
    release();
    await expect(failed).rejects.toThrow('ENOSPC');
    await meanwhile;
    expect(handed[1]).toEqual({ set: { a: 2, c: 1, y: 2 }, deleted: ['b', 'x'] });
    expect(Object.fromEntries(nvs.keys().map((k) => [k, nvs.get(k)]))).toEqual({ a: 2, c: 1, y: 2 });
    await nvs.close();
  });

  it('carries a failed write’s changes through several failures, under changes staged after them', async () => {
    const { nvs, handed, failNext } = recordingNvs();
    failNext(2);
    await expect(nvs.set({ a: 1, b: 1 })).rejects.toThrow('ENOSPC');
    await expect(nvs.delete(['z'])).rejects.toThrow('ENOSPC');
    await Promise.all([nvs.set({ c: 1 }), nvs.delete(['a'])]);
    expect(handed.at(-1)).toEqual({ set: { b: 1, c: 1 }, deleted: ['a', 'z'] });
    await nvs.close();
  });
});

describe('file NVS', () => {
  it('round-trips values across a reopen, through one journal line, creating the parent directory', async () => {
    file = path.join(dir, 'deep', 'er', 'nvs.json');
    journal = `${file}.log`;
    const values = {
      'settings.volume': 7,
      name: 'Café ₹ 商店',
      ok: true,
      none: null,
      list: [1, 'two', { three: 3 }],
      obj: { a: { b: [] } },
    };
    const first = await openFileNvs(file);
    await first.set(values);
    await first.close();
    expect(await readJournal()).toEqual([{ s: values, d: [] }]);
    const second = await openFileNvs(file);
    for (const [key, value] of Object.entries(values)) expect(second.get(key)).toEqual(value);
    await second.close();
  });

  it('coalesces 100 concurrent set() calls into far fewer writes, all resolved, final state right', async () => {
    const { nvs, writes } = await countingNvs();
    const sets = Array.from({ length: 100 }, (_, i) => nvs.set({ [`k${i}`]: i, last: i }));
    await expect(Promise.all(sets)).resolves.toHaveLength(100);
    expect(writes()).toBeGreaterThanOrEqual(1);
    expect(writes()).toBeLessThanOrEqual(2);
    await nvs.close();
    const values = await reboot();
    expect(values.last).toBe(99);
    for (let i = 0; i < 100; i++) expect(values[`k${i}`]).toBe(i);
  });

  it('folds calls made while a write is in flight into one next write', async () => {
    const { nvs, writes } = await countingNvs();
    const first = nvs.set({ a: 1 });
    await new Promise((r) => setImmediate(r)); // the first write has taken its snapshot
    const later = Array.from({ length: 50 }, (_, i) => nvs.set({ b: i }));
    await Promise.all([first, ...later]);
    expect(writes()).toBe(2);
    await nvs.close();
    expect(await reboot()).toEqual({ a: 1, b: 49 });
  });

  it('sets an unreadable file aside, warns once saying where, and starts empty', async () => {
    await writeFile(file, '{"format": 1, "values": {"n": 4'); // torn by a hand edit
    const { log, lines } = captureLog();
    const nvs = await openFileNvs(file, { log, now: () => Date.UTC(2026, 10, 24, 14, 0, 0) });
    const aside = `${file}.corrupt-2026-11-24T14-00-00-000Z`;
    const warnings = lines.filter((l) => l.level >= LEVEL.warn);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain(aside);
    expect(await readFile(aside, 'utf8')).toBe('{"format": 1, "values": {"n": 4');
    expect(nvs.get('n')).toBeUndefined();
    await nvs.set({ n: 5 });
    await nvs.close();
    expect(await reboot()).toEqual({ n: 5 });
  });

  it.each([
    ['valid JSON of another format', '{"format": 99, "values": {}}', 'format 99'],
    ['JSON that is not an NVS file', '[1, 2, 3]', 'not an NVS file'],
    ['an empty file', '', 'not JSON'],
  ])('treats %s as unreadable too', async (_what, text, reason) => {
    await writeFile(file, text);
    const { log, lines } = captureLog();
    const nvs = await openFileNvs(file, { log });
    const warnings = lines.filter((l) => l.level >= LEVEL.warn);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.reason).toContain(reason);
    expect((await readdir(dir)).filter((n) => n.startsWith('nvs.json.corrupt-'))).toHaveLength(1);
    await nvs.close();
  });

  it('loads a hand-written __proto__ key as data, and keeps it through a compaction', async () => {
    await writeFile(file, '{"format": 1, "values": {"__proto__": {"polluted": true}, "x": 1}}');
    const nvs = await openFileNvs(file, { compactAtBytes: 0 });
    expect(nvs.get('__proto__')).toEqual({ polluted: true });
    expect(nvs.get('x')).toBe(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await nvs.set({ y: 2 });
    await nvs.close();
    expect(await readFile(file, 'utf8')).toContain('"__proto__":{"polluted":true}');
  });

  it('removes temp files left by a crash, and only those', async () => {
    const first = await openFileNvs(file);
    await first.set({ kept: true });
    await first.close();
    await writeFile(`${file}.tmp-4242-17`, '{"format": 1, "val');
    await writeFile(`${file}.tmp-1-1`, '');
    await writeFile(path.join(dir, 'other.json.tmp-1-1'), 'not ours');
    const nvs = await openFileNvs(file);
    expect((await readdir(dir)).sort()).toEqual(['nvs.json.log', 'other.json.tmp-1-1']);
    expect(nvs.get('kept')).toBe(true);
    await nvs.close();
  });

  it('rejects a failed write with the file’s name, and the next set() tries again', async () => {
    // Running as root, a read-only directory does not stop writes; a directory squatting on
    // the journal's path makes the append fail for anyone.
    const nvs = await openFileNvs(file);
    await mkdir(journal);
    const failing = [nvs.set({ a: 1 }), nvs.set({ b: 2 })];
    for (const f of failing) await expect(f).rejects.toThrow(`could not write ${journal}`);
    expect(nvs.get('a')).toBe(1); // still staged, to be written next time
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
    await rmdir(journal);
    await nvs.set({ c: 3 });
    await nvs.close();
    expect(await reboot()).toEqual({ a: 1, b: 2, c: 3 });
  });

  it.each([
    ['snapshot', ''],
    ['journal', '.log'],
  ])('refuses to open a %s it cannot read as a file, saying which', async (_which, suffix) => {
    await mkdir(`${file}${suffix}`);
    await expect(openFileNvs(file)).rejects.toThrow(`cannot read ${file}${suffix}`);
  });
});

/** The reopened store kept only the journal's first line ({ a: 1 }), and its next write lands right after it. */
async function expectOnlyFirstLineKept(nvs: Nvs): Promise<void> {
  expect(nvs.keys()).toEqual(['a']);
  await nvs.set({ next: 1 });
  await nvs.close();
  expect(await readJournal()).toEqual([
    { s: { a: 1 }, d: [] },
    { s: { next: 1 }, d: [] },
  ]);
}

describe('file NVS journal', () => {
  it('puts a set and a delete of one turn on one journal line: a crash mid-append keeps all or none', async () => {
    const nvs = await openFileNvs(file);
    await nvs.set({ 'inbox.7': { amount: 500 } });
    await Promise.all([nvs.delete(['inbox.7']), nvs.set({ 'handled.7': 'played' })]);
    await nvs.close();
    expect(await readJournal()).toEqual([
      { s: { 'inbox.7': { amount: 500 } }, d: [] },
      { s: { 'handled.7': 'played' }, d: ['inbox.7'] },
    ]);
    const whole = await readFile(journal);
    // Every place a crash could cut the second append short, up to its last byte (the newline).
    for (let cut = whole.indexOf('\n') + 1; cut < whole.length; cut++) {
      await writeFile(journal, whole.subarray(0, cut));
      expect(await reboot(), `journal cut at byte ${cut} of ${whole.length}`).toEqual({ 'inbox.7': { amount: 500 } });
    }
    await writeFile(journal, whole);
    expect(await reboot()).toEqual({ 'handled.7': 'played' });
  });

  it.each([
    ['cut short mid-line', '{"s":{"x":1},"d":'],
    ['complete but for its newline', '{"s":{"x":1},"d":[]}'],
    ['unreadable, newline and all', '\u0000\u0000\u0000\n'],
  ])('ignores a last line %s at debug level, cuts it off, and appends after the good lines', async (_what, tail) => {
    const first = await openFileNvs(file);
    await first.set({ a: 1 });
    await first.close();
    await appendFile(journal, tail);
    const { log, lines } = captureLog();
    const nvs = await openFileNvs(file, { log });
    expect(lines.filter((l) => l.level >= LEVEL.warn)).toEqual([]);
    expect(lines.filter((l) => l.level === LEVEL.debug && l.msg.includes('ignored the last line'))).toHaveLength(1);
    await expectOnlyFirstLineKept(nvs);
  });

  it('treats an unreadable line with lines after it as corruption: copies the journal aside, keeps the lines before it, warns', async () => {
    const first = await openFileNvs(file);
    for (const values of [{ a: 1 }, { b: 2 }, { c: 3 }]) await first.set(values);
    await first.close();
    const [line1, , line3] = (await readFile(journal, 'utf8')).split('\n');
    const corrupted = `${line1}\n{"s":{"b":2\n${line3}\n`;
    await writeFile(journal, corrupted);
    const { log, lines } = captureLog();
    const nvs = await openFileNvs(file, { log, now: () => Date.UTC(2026, 10, 24, 14, 0, 0) });
    const aside = `${journal}.corrupt-2026-11-24T14-00-00-000Z`;
    const warnings = lines.filter((l) => l.level >= LEVEL.warn);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain(`line 2 of ${journal}`);
    expect(warnings[0]!.msg).toContain(aside);
    expect(await readFile(aside, 'utf8')).toBe(corrupted);
    // Not c either: applying lines after the bad one could make a state no write ever made.
    await expectOnlyFirstLineKept(nvs);
    const again = captureLog();
    await (await openFileNvs(file, { log: again.log })).close();
    expect(again.lines.filter((l) => l.level >= LEVEL.warn)).toEqual([]);
  });

  it('treats a line that still parses but fails its CRC (a flipped digit) as corruption', async () => {
    const first = await openFileNvs(file);
    for (const values of [{ a: 1 }, { b: 200 }, { c: 3 }]) await first.set(values);
    await first.close();
    const text = await readFile(journal, 'utf8');
    const flipped = text.replace('"b":200', '"b":900'); // still JSON, still a journal line
    expect(flipped).not.toBe(text);
    await writeFile(journal, flipped);
    const { log, lines } = captureLog();
    const nvs = await openFileNvs(file, { log, now: () => Date.UTC(2026, 10, 24, 14, 0, 0) });
    const warnings = lines.filter((l) => l.level >= LEVEL.warn);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain(`line 2 of ${journal}`);
    expect(warnings[0]!.msg).toContain('CRC mismatch');
    await expectOnlyFirstLineKept(nvs);
  });

  it('reads journal lines written before the CRC (firmware 0.1.0) as they are', async () => {
    await writeFile(journal, '{"s":{"a":1},"d":[]}\n{"s":{"b":2},"d":["a"]}\n');
    expect(await reboot()).toEqual({ b: 2 });
  });

  it('sets an unreadable snapshot aside together with its journal, which cannot be replayed without it', async () => {
    await writeFile(file, '{"format": 1, "val');
    await writeFile(journal, '{"s":{"a":1},"d":[]}\n');
    const { log, lines } = captureLog();
    const nvs = await openFileNvs(file, { log, now: () => Date.UTC(2026, 10, 24, 14, 0, 0) });
    const stamp = 'corrupt-2026-11-24T14-00-00-000Z';
    const warnings = lines.filter((l) => l.level >= LEVEL.warn);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain(`${file}.${stamp}`);
    expect(warnings[0]!.msg).toContain(`${journal}.${stamp}`);
    expect((await readdir(dir)).sort()).toEqual([`nvs.json.${stamp}`, `nvs.json.log.${stamp}`]);
    expect(nvs.keys()).toEqual([]);
    await nvs.set({ x: 1 });
    await nvs.close();
    expect(await reboot()).toEqual({ x: 1 });
  });

  it('compacts when the journal passes its limit: the journal shrinks, the snapshot holds the store', async () => {
    const { nvs, compactions } = await countingNvs({ compactAtBytes: 1000 });
    const value = 'v'.repeat(200);
    const sizes: number[] = [];
    for (let i = 0; i < 20; i++) {
      await Promise.all([nvs.set({ [`k${i}`]: value }), nvs.delete([`k${i - 3}`])]);
      sizes.push((await stat(journal)).size);
    }
    await nvs.close();
    expect(compactions()).toBeGreaterThanOrEqual(3);
    expect(sizes.filter((size, i) => i > 0 && size < sizes[i - 1]!)).toHaveLength(compactions());
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1000);
    const snapshot = await readDoc();
    expect(snapshot.format).toBe(NVS_FORMAT);
    expect(Object.keys(snapshot.values)).toHaveLength(3);
    expect(await reboot()).toEqual({ k17: value, k18: value, k19: value });
  });

  it.each([
    ['an empty store', 0],
    ['a 100 KB store', 10],
  ])('compacts %s only once the journal outgrows max(64 KiB, the snapshot)', async (_what, bigKeys) => {
    if (bigKeys > 0) {
      const seed = await openFileNvs(file, { compactAtBytes: 0 });
      await seed.set(Object.fromEntries(Array.from({ length: bigKeys }, (_, i) => [`big${i}`, 'z'.repeat(10_000)])));
      await seed.close();
    }
    const snapshotBytes = bigKeys > 0 ? (await stat(file)).size : 0;
    const limit = Math.max(JOURNAL_LIMIT_BYTES, snapshotBytes);
    const { nvs, compactions } = await countingNvs();
    const sizes: number[] = []; // the journal's size after each write that did not compact
    while (compactions() === 0) {
      expect(sizes.length, 'still no compaction').toBeLessThan(100);
      await nvs.set({ [`k${sizes.length % 3}`]: 'y'.repeat(8 * 1024) }); // lines of equal size
      if (compactions() === 0) sizes.push((await stat(journal)).size);
    }
    await nvs.close();
    const [lineBytes] = sizes;
    expect(sizes.at(-1)).toBeLessThanOrEqual(limit);
    expect(sizes.at(-1)! + lineBytes!).toBeGreaterThan(limit);
    expect((await stat(journal)).size).toBe(0);
  });

  it('gives the same store after a crash between writing the new snapshot and cutting the old journal', async () => {
    /** Sets, deletes, a key deleted and set again, a nested value. */
    async function history(target: string, opts: FileNvsOptions): Promise<void> {
      const nvs = await openFileNvs(target, opts);
      await nvs.set({ a: 1, b: 1, c: 1 });
      await Promise.all([nvs.delete(['a']), nvs.set({ b: 2, d: 2 })]);
      await nvs.set({ a: 3 });
      await nvs.delete(['c', 'd']);
      await nvs.set({ b: 4, e: { nested: [4] } });
      await nvs.close();
    }
    const journaled = path.join(dir, 'journaled', 'nvs.json');
    const compacted = path.join(dir, 'compacted', 'nvs.json');
    await history(journaled, { compactAtBytes: Number.POSITIVE_INFINITY });
    await history(compacted, { compactAtBytes: 0 });
    expect(await stat(`${compacted}.log`)).toMatchObject({ size: 0 });
    // The crash: the new snapshot is in place, the journal it covers was never cut.
    await writeFile(`${compacted}.log`, await readFile(`${journaled}.log`));
    const expected = { a: 3, b: 4, e: { nested: [4] } };
    expect(await reboot(journaled)).toEqual(expected);
    expect(await reboot(compacted)).toEqual(expected);
    const nvs = await openFileNvs(compacted);
    await nvs.delete(['a']);
    await nvs.close();
    expect(await reboot(compacted)).toEqual({ b: 4, e: { nested: [4] } });
  });

  it('keeps a failed append’s changes, deletes included, for the next write, and cuts whatever of it landed', async () => {
    const first = await openFileNvs(file);
    await first.set({ a: 1, gone: 1 });
    await first.close();
    const nvs = await openFileNvs(file);
    // As root, only a directory in the way stops an append (before the driver has the journal open).
    await rename(journal, `${journal}.away`);
    await mkdir(journal);
    const failed = Promise.all([nvs.set({ a: 2, b: 2, c: 2 }), nvs.delete(['gone'])]);
    await expect(failed).rejects.toThrow(`could not write ${journal}`);
    await rmdir(journal);
    await rename(`${journal}.away`, journal);
    await appendFile(journal, '{"s":{"a":2,"b"'); // as if part of the failed line had reached the disk
    // After the failure: a set of a key it set, a delete of a key it set.
    await Promise.all([nvs.set({ a: 3 }), nvs.delete(['b'])]);
    await nvs.close();
    expect(await readJournal()).toEqual([
      { s: { a: 1, gone: 1 }, d: [] },
      { s: { a: 3, c: 2 }, d: ['b', 'gone'] },
    ]);
    expect(await reboot()).toEqual({ a: 3, c: 2 });
  });

  it('fails no write when a compaction fails: warns once, and a later write compacts', async () => {
    const { log, lines } = captureLog();
    const { nvs, compactions } = await countingNvs({ log, compactAtBytes: 0 });
    const squatter = `${file}.tmp-${process.pid}-1`; // the first compaction's temp file
    await mkdir(squatter);
    await nvs.set({ a: 1 });
    expect(compactions()).toBe(0);
    const warnings = lines.filter((l) => l.level >= LEVEL.warn);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain('compaction failed');
    expect(await readJournal()).toEqual([{ s: { a: 1 }, d: [] }]);
    await nvs.set({ b: 2 });
    expect(compactions()).toBe(1);
    await nvs.close();
    await rmdir(squatter);
    expect((await readDoc()).values).toEqual({ a: 1, b: 2 });
    expect(await reboot()).toEqual({ a: 1, b: 2 });
  });
});
