/**
 * The browser board's parts that can run in Node: the IndexedDB NVS against fake-indexeddb (a
 * full in-memory IndexedDB), the PCM conversion and digest, the WebAudio driver's queue with a
 * stand-in AudioContext, the panel, and the board bundled for a browser by esbuild. The real
 * WebAudio and IndexedDB are exercised by the console's in-browser test.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { build } from 'esbuild';
import { IDBFactory, IDBObjectStore, IDBDatabase } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Pcm } from '../../src/audio/pcm.ts';
import { createBrowserBoard } from '../../device/boards/browser.ts';
import { nvsDatabaseName, openIndexedDbNvs } from '../../device/drivers/browser/nvs-indexeddb.ts';
import { createBrowserPanel, LED_LOOKS, signalBars, type PanelState } from '../../device/drivers/browser/panel.ts';
import { pcmBytesLE, pcmToFloat32 } from '../../device/drivers/browser/pcm-digest.ts';
import { webCryptoRandom } from '../../device/drivers/browser/random.ts';
import {
  createWebAudioOut,
  DEFAULT_END_MARGIN_MS,
  type AudioBufferLike,
  type AudioContextLike,
  type AudioSourceLike,
} from '../../device/drivers/browser/webaudio.ts';
import type { Nvs } from '../../device/drivers/nvs.ts';

/** A fresh, empty IndexedDB per test: nothing leaks between tests. */
let idb: IDBFactory;
beforeEach(() => {
  idb = new IDBFactory();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

const DB = nvsDatabaseName('SPK-TEST-1');

async function reboot(name = DB): Promise<Record<string, unknown>> {
  const nvs = await openIndexedDbNvs(name, idb);
  const values = Object.fromEntries(nvs.keys().map((key) => [key, nvs.get(key)]));
  await nvs.close();
  return values;
}

async function open(initial?: Record<string, unknown>): Promise<Nvs> {
  const nvs = await openIndexedDbNvs(DB, idb);
  if (initial) await nvs.set(initial);
  return nvs;
}

/** Counts the readwrite transactions the driver starts: one per durable write. */
function countWrites(): () => number {
  let writes = 0;
  const original = IDBDatabase.prototype.transaction;
  vi.spyOn(IDBDatabase.prototype, 'transaction').mockImplementation(function (
    this: IDBDatabase,
    ...args: Parameters<IDBDatabase['transaction']>
  ) {
    if (args[1] === 'readwrite') writes += 1;
    return original.apply(this, args);
  });
  return () => writes;
}

// The contract every NVS driver keeps runs on this one too, in test/device/nvs.test.ts.
describe('IndexedDB NVS', () => {
  it('keeps a __proto__ key as data across a reboot, without polluting prototypes', async () => {
    const nvs = await open();
    await nvs.set(
      JSON.parse('{"__proto__": {"polluted": true}, "inner": {"__proto__": 1}}') as Record<string, unknown>,
    );
    await nvs.close();
    const back = await reboot();
    expect(Object.keys(back)).toEqual(['__proto__', 'inner']);
    expect(Object.keys(back.inner as object)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
  it('close() waits for pending writes, which a reboot then finds', async () => {
    const nvs = await open();
    const pending = nvs.set({ v: 7 });
    await nvs.close();
    await expect(pending).resolves.toBeUndefined();
    await expect(nvs.set({ v: 8 })).rejects.toThrow('is closed');
    await expect(nvs.delete(['v'])).rejects.toThrow('delete() after close()');
    expect(nvs.get('v')).toBe(7);
    await nvs.close(); // twice is fine
    expect(await reboot()).toEqual({ v: 7 });
  });
  it('keeps values and key order across close and reopen, not IndexedDB’s sorted order', async () => {
    const nvs = await open();
    await nvs.set({ zeta: 1, '12': 'n', alpha: { deep: [1, 'two', null, { x: true }] } });
    await nvs.set({ mid: -0.5 });
    await nvs.delete(['zeta']);
    await nvs.set({ zeta: 'back' }); // deleted in an earlier write, so it moves to the end
    await nvs.set({ '12': 'n2' }); // overwritten: keeps its place
    await nvs.close();
    const again = await openIndexedDbNvs(DB, idb);
    expect(again.keys()).toEqual(['12', 'alpha', 'mid', 'zeta']);
    expect(Object.fromEntries(again.keys().map((k) => [k, again.get(k)]))).toEqual({
      '12': 'n2',
      alpha: { deep: [1, 'two', null, { x: true }] },
      mid: -0.5,
      zeta: 'back',
    });
    expect(Object.isFrozen(again.get('alpha'))).toBe(true);
    // Numbers keep counting after a reboot: a new key still goes last.
    await again.set({ first: 'new' });
    await again.close();
    expect(Object.keys(await reboot())).toEqual(['12', 'alpha', 'mid', 'zeta', 'first']);
  });

  it('writes one synchronous turn’s sets and deletes as one transaction', async () => {
    const nvs = await open({ 'inbox.7': { amount: 100 }, other: 1 });
    const writes = countWrites();
    const moved = [nvs.delete(['inbox.7']), nvs.set({ 'handled.7': 'ack' }), nvs.set({ other: 2 })];
    await Promise.all(moved);
    expect(writes()).toBe(1);
    await nvs.close();
    expect(await reboot()).toEqual({ other: 2, 'handled.7': 'ack' });
  });

  it('coalesces a burst made while a write is in flight into one more write', async () => {
    const nvs = await open();
    const writes = countWrites();
    const first = nvs.set({ n: 0 });
    await Promise.resolve(); // the first write has taken its changes
    await Promise.resolve();
    const burst = Array.from({ length: 50 }, (_, i) => nvs.set({ n: i + 1, [`k${i}`]: i }));
    await Promise.all([first, ...burst]);
    expect(writes()).toBeLessThanOrEqual(2);
    await nvs.close();
    const back = await reboot();
    expect(back.n).toBe(50);
    expect(Object.keys(back)).toHaveLength(51);
  });

  it('lands a group all or nothing: a transaction that fails half-way leaves no trace, and its callers hear why', async () => {
    const nvs = await open({ 'inbox.7': { amount: 100 }, volume: 5 });
    // fake-indexeddb cannot run out of space, so the test aborts the transaction the way a full
    // disk would, through its internal _abort (what it does for a failed request), AFTER the
    // first put has been applied: IndexedDB must roll that put back.
    const put = IDBObjectStore.prototype.put;
    let failNext = true;
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (
      this: IDBObjectStore,
      ...args: Parameters<IDBObjectStore['put']>
    ) {
      const request = put.apply(this, args);
      if (failNext) {
        failNext = false;
        request.addEventListener('success', () => {
          (request.transaction as unknown as { _abort(name: string): void })._abort('QuotaExceededError');
        });
      }
      return request;
    });
    const deleted = nvs.delete(['inbox.7']);
    const set = nvs.set({ 'handled.7': 'ack', volume: 9 });
    await expect(set).rejects.toThrow(
      `IndexedDB database "${DB}" was not saved (QuotaExceededError: no details); the browser's storage for this site is full`,
    );
    await expect(deleted).rejects.toThrow('retried with the next write');
    // Memory keeps the changes; storage has none of them.
    expect(nvs.get('volume')).toBe(9);
    const other = await openIndexedDbNvs(DB, idb);
    expect(Object.fromEntries(other.keys().map((k) => [k, other.get(k)]))).toEqual({
      'inbox.7': { amount: 100 },
      volume: 5,
    });
    await other.close();
    // The failed changes ride on the next write, whole.
    await nvs.set({ later: true });
    await nvs.close();
    expect(await reboot()).toEqual({ volume: 9, 'handled.7': 'ack', later: true });
  });

  it('aborts the transaction when a request throws as it is made, so the requests before it do not land', async () => {
    const nvs = await open({ a: 1, b: 1 });
    const put = IDBObjectStore.prototype.put;
    let calls = 0;
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (
      this: IDBObjectStore,
      ...args: Parameters<IDBObjectStore['put']>
    ) {
      calls += 1;
      if (calls === 2) throw new DOMException('the stand-in refuses the second put', 'DataError');
      return put.apply(this, args);
    });
    await expect(nvs.set({ a: 2, b: 2 })).rejects.toThrow('(DataError: the stand-in refuses the second put)');
    vi.restoreAllMocks();
    const other = await openIndexedDbNvs(DB, idb);
    expect([other.get('a'), other.get('b')]).toEqual([1, 1]);
    await other.close();
    await nvs.close();
  });

  it('closes when another tab deletes the database, and then says so on each write', async () => {
    const nvs = await open({ a: 1 });
    await new Promise<void>((resolve, reject) => {
      const request = idb.deleteDatabase(DB);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error ?? new Error('deleteDatabase failed'));
    });
    await expect(nvs.set({ a: 2 })).rejects.toThrow(
      /InvalidStateError.*the database was closed \(another tab deleted or upgraded it\?\): reload the page/,
    );
    await nvs.close();
  });

  it('keeps one database per device', async () => {
    const one = await openIndexedDbNvs(nvsDatabaseName('SPK-1'), idb);
    const two = await openIndexedDbNvs(nvsDatabaseName('SPK-2'), idb);
    await Promise.all([one.set({ volume: 1 }), two.set({ volume: 2 })]);
    await Promise.all([one.close(), two.close()]);
    expect(await reboot('payspeaker-nvs-SPK-1')).toEqual({ volume: 1 });
    expect(await reboot('payspeaker-nvs-SPK-2')).toEqual({ volume: 2 });
  });

  it('says what to do when there is no IndexedDB', async () => {
    await expect(openIndexedDbNvs(DB, undefined)).rejects.toThrow('IndexedDB is not available here');
  });
});

const pcm = (samples: number[], sampleRate = 8000): Pcm => ({ sampleRate, samples: Int16Array.from(samples) });

describe('PCM for WebAudio', () => {
  it('converts int16 to float as s / 32768, exactly', () => {
    expect([...pcmToFloat32(pcm([0, 1, -1, 16384, -16384, 32767, -32768]))]).toEqual([
      0,
      1 / 32768,
      -1 / 32768,
      0.5,
      -0.5,
      32767 / 32768,
      -1,
    ]);
    // Every int16 survives the round trip through float32: nothing is rounded.
    const all = pcm(Array.from({ length: 65536 }, (_, i) => i - 32768));
    const floats = pcmToFloat32(all);
    for (let i = 0; i < floats.length; i++) if (floats[i]! * 32768 !== all.samples[i]) throw new Error(`sample ${i}`);
  });

  it('digests little-endian int16 bytes, as node:crypto does over the same bytes', () => {
    const bytes = pcmBytesLE(Int16Array.from([1, -2, 0x1234]));
    expect([...bytes]).toEqual([0x01, 0x00, 0xfe, 0xff, 0x34, 0x12]);
  });
});

/** A played clip, as the stand-in context saw it. */
interface Heard {
  data: Float32Array;
  sampleRate: number;
  startedAt: number;
  endedAt?: number;
  stopped: boolean;
}

/**
 * A stand-in for AudioContext: WebAudio does not exist in Node, so this plays nothing; it ends
 * each source after its buffer's length on the (fake) timers, and stays silent while
 * "suspended", as browsers do before a user gesture. The real one runs in the browser test.
 */
function fakeAudioContext(state: 'running' | 'suspended' = 'running') {
  const heard: Heard[] = [];
  let playing = 0;
  let mostAtOnce = 0;
  const ctx = {
    state: state as string,
    destination: {},
    resumes: 0,
    closed: false,
    createBuffer(channels: number, length: number, sampleRate: number) {
      expect(channels).toBe(1);
      const data = new Float32Array(length);
      return {
        data,
        sampleRate,
        copyToChannel: (source: Float32Array, channel: number) => {
          expect(channel).toBe(0);
          data.set(source);
        },
      };
    },
    createBufferSource(): AudioSourceLike {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let clip: Heard | undefined;
      const source: AudioSourceLike = {
        buffer: null as AudioBufferLike | null,
        onended: null,
        connect: () => undefined,
        disconnect: () => undefined,
        start() {
          const buffer = source.buffer as unknown as { data: Float32Array; sampleRate: number };
          clip = { data: buffer.data, sampleRate: buffer.sampleRate, startedAt: Date.now(), stopped: false };
          heard.push(clip);
          playing += 1;
          mostAtOnce = Math.max(mostAtOnce, playing);
          if (ctx.state !== 'running') return; // a suspended context's clock stands still
          timer = setTimeout(
            () => {
              playing -= 1;
              clip!.endedAt = Date.now();
              source.onended?.(new Event('ended'));
            },
            (buffer.data.length * 1000) / buffer.sampleRate,
          );
        },
        stop() {
          clearTimeout(timer);
          playing -= 1;
          clip!.stopped = true;
        },
      };
      return source;
    },
    resume() {
      ctx.resumes += 1;
      return new Promise<void>(() => undefined); // Chrome: settles only after a click
    },
    close() {
      ctx.closed = true;
      ctx.state = 'closed';
      return Promise.resolve();
    },
  };
  return { ctx: ctx satisfies AudioContextLike, heard, mostAtOnce: () => mostAtOnce };
}

/** A tone of `n` samples at 8 kHz: 1 ms per 8 samples. */
const tone = (n: number, amp: number) => pcm(Array.from({ length: n }, (_, i) => (i % 2 ? amp : -amp)));

describe('WebAudio out (with a stand-in context)', () => {
  it('queues clips, never overlapping, each resolving when its playback has ended', async () => {
    vi.useFakeTimers();
    const { ctx, heard, mostAtOnce } = fakeAudioContext();
    const out = createWebAudioOut(ctx);
    const labels: string[] = [];
    out.onPlay((clip) => labels.push(clip.label));
    const t0 = Date.now();
    const done: string[] = [];
    const plays = [tone(800, 1000), tone(1600, 2000), tone(400, 3000)].map((p, i) =>
      out.play(p, `clip ${i}`).then((r) => {
        done.push(`clip ${i}`);
        return r;
      }),
    );
    await vi.advanceTimersByTimeAsync(99);
    expect(done).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toEqual(['clip 0']);
    await vi.advanceTimersByTimeAsync(250);
    expect(await Promise.all(plays)).toEqual([
      { sink: 'webaudio', durationMs: 100 },
      { sink: 'webaudio', durationMs: 200 },
      { sink: 'webaudio', durationMs: 50 },
    ]);
    expect(mostAtOnce()).toBe(1);
    expect(heard.map((h) => h.startedAt - t0)).toEqual([0, 100, 300]);
    expect(labels).toEqual(['clip 0', 'clip 1', 'clip 2']);
    expect(heard[1]!.data[1]).toBe(2000 / 32768);
    expect(heard[1]!.sampleRate).toBe(8000);
  });

  it('keeps a digest over exactly the PCM played, equal to node:crypto’s sha256 of the same bytes', async () => {
    vi.useFakeTimers();
    const { ctx } = fakeAudioContext();
    const out = createWebAudioOut(ctx);
    expect(await out.playedDigest()).toEqual({
      sha256: createHash('sha256').update(Buffer.alloc(0)).digest('hex'),
      samples: 0,
      peak: 0,
    });
    const clips = [pcm([1, -2, 300, -32768, 32767]), tone(801, 1234), pcm([])];
    const played = Promise.all(clips.map((c, i) => out.play(c, `c${i}`)));
    await vi.runAllTimersAsync();
    await played;
    const expected = createHash('sha256');
    for (const c of clips) expected.update(Buffer.from(c.samples.buffer, c.samples.byteOffset, c.samples.byteLength));
    expect(await out.playedDigest()).toEqual({ sha256: expected.digest('hex'), samples: 806, peak: 32768 });
    // Reading the digest does not end the running hash.
    const more = out.play(pcm([5]), 'more');
    await vi.runAllTimersAsync();
    await more;
    expect((await out.playedDigest()).samples).toBe(807);
  });

  it('resolves after the clip’s length when the context stays suspended, and reports it unheard', async () => {
    vi.useFakeTimers();
    const { ctx, heard, mostAtOnce } = fakeAudioContext('suspended');
    const out = createWebAudioOut(ctx);
    const unheard: string[] = [];
    out.onUnheard((clip) => unheard.push(`${clip.label}: ${clip.state}`));
    let settled = 0;
    const plays = [out.play(tone(800, 100), 'welcome'), out.play(tone(800, 100), 'online')].map((p) =>
      p.then(() => (settled += 1)),
    );
    await vi.advanceTimersByTimeAsync(100 + DEFAULT_END_MARGIN_MS - 1);
    expect(settled).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBe(1);
    await vi.advanceTimersByTimeAsync(100 + DEFAULT_END_MARGIN_MS);
    await Promise.all(plays);
    expect(unheard).toEqual(['welcome: suspended', 'online: suspended']);
    expect(ctx.resumes).toBe(2); // asked each time, never awaited
    expect(heard.every((h) => h.stopped)).toBe(true); // a late click must not play them over later clips
    expect(mostAtOnce()).toBe(1);
  });

  it('waits one more length for a clip whose context was resumed mid-clip (a click), rather than overlap it', async () => {
    vi.useFakeTimers();
    const { ctx } = fakeAudioContext('suspended');
    const out = createWebAudioOut(ctx);
    const unheard: string[] = [];
    out.onUnheard((clip) => unheard.push(clip.label));
    let settled = false;
    const playing = out.play(tone(800, 100), 'welcome').then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(50);
    ctx.state = 'running'; // the user clicked: the clip starts now, late
    await vi.advanceTimersByTimeAsync(100 + DEFAULT_END_MARGIN_MS);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(100 + DEFAULT_END_MARGIN_MS);
    await playing;
    expect(unheard).toEqual([]);
  });

  it('close() waits for the queue, refuses later clips, and closes the context only when asked to', async () => {
    vi.useFakeTimers();
    const shared = fakeAudioContext();
    const out = createWebAudioOut(shared.ctx);
    const playing = out.play(tone(80, 1), 'last');
    const closing = out.close();
    await vi.advanceTimersByTimeAsync(10);
    await expect(playing).resolves.toEqual({ sink: 'webaudio', durationMs: 10 });
    await closing;
    await expect(out.play(tone(8, 1), 'late')).rejects.toThrow('audio sink "webaudio" is closed');
    expect(shared.ctx.closed).toBe(false);

    const own = fakeAudioContext();
    const owner = createWebAudioOut(own.ctx, { closeContext: true });
    await owner.close();
    await owner.close();
    expect(own.ctx.closed).toBe(true);
  });
});

describe('browser panel', () => {
  it('maps each state to an LED look, keeps the display, and feeds one observable state', () => {
    const panel = createBrowserPanel({ clock: { monotonic: () => 0 }, random: () => 0.5 });
    const seen: PanelState[] = [];
    const unsubscribe = panel.subscribe((s) => seen.push(s));
    expect(panel.state()).toMatchObject({ state: null, led: { color: 'off', blink: false }, display: null });
    panel.led.set('connecting');
    panel.led.set('online');
    panel.display.show({ device: 'SPK-1', state: 'online', volume: 7, queue: 0, lastPayment: '₹12.50' });
    expect(seen.map((s) => s.led)).toEqual([LED_LOOKS.connecting, LED_LOOKS.online, LED_LOOKS.online]);
    expect(panel.state().display).toMatchObject({ volume: 7, lastPayment: '₹12.50' });
    expect(Object.isFrozen(panel.state())).toBe(true);
    expect(panel.link.signalDbm()).toBe(-75);
    expect(panel.state().signalDbm).toBe(-75);
    expect(signalBars(-75)).toBe(3);
    unsubscribe();
    panel.led.set('offline');
    expect(seen).toHaveLength(3);
    expect(panel.state().led).toEqual({ color: 'red', blink: true });
  });

  it('passes clicks to the firmware’s button handlers and refuses names that are not buttons', () => {
    const panel = createBrowserPanel({ clock: { monotonic: () => 0 } });
    const pressed: string[] = [];
    panel.buttons.onPress((b) => pressed.push(b));
    panel.press('volume-up');
    panel.press('replay');
    expect(pressed).toEqual(['volume-up', 'replay']);
    expect(() => panel.press('eject' as 'power')).toThrow('no button "eject" on the box; the buttons are volume-up');
  });
});

describe('browser board', () => {
  it('wires WebAudio, IndexedDB NVS and the panel, and close() closes audio and NVS', async () => {
    const { ctx } = fakeAudioContext();
    const board = await createBrowserBoard({ device: 'SPK-WEB-1', indexedDB: idb, audioContext: ctx });
    expect(board.name).toBe('browser');
    await board.nvs.set({ volume: 8 });
    const pressed: string[] = [];
    board.buttons.onPress((b) => pressed.push(b));
    board.panel.press('summary');
    expect(pressed).toEqual(['summary']);
    board.led.set('online');
    expect(board.panel.state().led).toEqual({ color: 'green', blink: false });
    expect(board.random.bytes(70_000)).toHaveLength(70_000);
    expect((await board.audio.playedDigest()).samples).toBe(0);
    await board.close();
    await expect(board.nvs.set({ volume: 9 })).rejects.toThrow('is closed');
    await expect(board.audio.play(tone(8, 1), 'late')).rejects.toThrow('is closed');
    expect(ctx.closed).toBe(false); // the page's shared context stays open
    expect(await reboot('payspeaker-nvs-SPK-WEB-1')).toEqual({ volume: 8 });
  });

  it('says what to do without WebAudio', async () => {
    await expect(createBrowserBoard({ device: 'SPK-WEB-1', indexedDB: idb })).rejects.toThrow(
      'WebAudio (AudioContext) is not available here',
    );
  });

  it('gives random bytes from WebCrypto', () => {
    const a = webCryptoRandom.bytes(32);
    expect(a).toHaveLength(32);
    expect(a).not.toEqual(webCryptoRandom.bytes(32));
  });

  it('bundles for a browser: no node: module, Buffer or process in anything it imports', async () => {
    const result = await build({
      entryPoints: [path.resolve('device/boards/browser.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      metafile: true,
    });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((i) => i.startsWith('node:') || !/\.(ts|js|mjs)$/.test(i))).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/\bBuffer\b|\bprocess\.|require\(/);
  });
});
