/**
 * NVS drivers through their public interface: the contract both drivers keep, then the file
 * driver's own duties (atomic writes, coalescing, recovery from corruption, stale temps and
 * write errors) against a real temp directory.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Nvs } from '../../device/drivers/nvs.ts';
import { NVS_FORMAT, openFileNvs, type FileNvsOptions } from '../../device/drivers/nvs-file.ts';
import { createMemoryNvs } from '../../device/drivers/nvs-memory.ts';
import { captureLog, LEVEL } from '../fixtures/capture-log.ts';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'payspeaker-nvs-'));
  file = path.join(dir, 'nvs.json');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readDoc(target = file): Promise<{ format: number; values: Record<string, unknown> }> {
  return JSON.parse(await readFile(target, 'utf8')) as { format: number; values: Record<string, unknown> };
}

/** Opens a file NVS that counts its durable writes. */
async function countingNvs(opts: FileNvsOptions = {}): Promise<{ nvs: Nvs; writes: () => number }> {
  let writes = 0;
  const nvs = await openFileNvs(file, { ...opts, onWrite: () => (writes += 1) });
  return { nvs, writes: () => writes };
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
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "inner": {"__proto__": {"polluted": true}}}') as Record<string, unknown>;
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
});

describe('file NVS', () => {
  it('round-trips values across a reopen, in a versioned file, creating the parent directory', async () => {
    file = path.join(dir, 'deep', 'er', 'nvs.json');
    const values = { 'settings.volume': 7, name: 'Café ₹ 商店', ok: true, none: null, list: [1, 'two', { three: 3 }], obj: { a: { b: [] } } };
    const first = await openFileNvs(file);
    await first.set(values);
    await first.close();
    expect(await readDoc()).toEqual({ format: NVS_FORMAT, values });
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
    const { values } = await readDoc();
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
    expect((await readDoc()).values).toEqual({ a: 1, b: 49 });
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
    expect((await readDoc()).values).toEqual({ n: 5 });
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

  it('loads a hand-written __proto__ key as data', async () => {
    await writeFile(file, '{"format": 1, "values": {"__proto__": {"polluted": true}, "x": 1}}');
    const nvs = await openFileNvs(file);
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
    expect((await readdir(dir)).sort()).toEqual(['nvs.json', 'other.json.tmp-1-1']);
    expect(nvs.get('kept')).toBe(true);
    await nvs.close();
  });

  it('rejects a failed write with the file’s name, and the next set() tries again', async () => {
    // Running as root, a read-only directory does not stop writes; a directory squatting on
    // the target path makes rename() fail for anyone.
    const nvs = await openFileNvs(file);
    await mkdir(file);
    const failing = [nvs.set({ a: 1 }), nvs.set({ b: 2 })];
    for (const f of failing) await expect(f).rejects.toThrow(`could not write ${file}`);
    expect(nvs.get('a')).toBe(1); // still staged, to be written next time
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
    await rmdir(file);
    await nvs.set({ c: 3 });
    await nvs.close();
    expect((await readDoc()).values).toEqual({ a: 1, b: 2, c: 3 });
  });

  it('refuses to open a path it cannot read as a file, saying which', async () => {
    await mkdir(file);
    await expect(openFileNvs(file)).rejects.toThrow(`cannot read ${file}`);
  });
});
