/**
 * `npm run bench:voices`: what a voice costs between "notification received" and "PCM ready".
 *   1. voice-pack build — recording every clip of a language with eSpeak NG (first-use cost)
 *   2. clips            — utterance built, clips joined from the pack (what real boxes do)
 *   3. espeak           — utterance built, whole sentence synthesised (cloud-TTS style)
 * Amounts, channels and refunds are drawn from a seeded generator, so runs are comparable.
 * eSpeak is several hundred times slower than joining clips, so it gets fewer samples (--espeak-count).
 * Usage: npm run bench:voices [-- --count 10000] [-- --espeak-count 300] [-- --langs zh-CN,en-US] [-- --json]
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { createEspeakEngine } from '../src/audio/tts/espeak.ts';
import type { TtsEngine } from '../src/audio/tts/engine.ts';
import { CHANNELS } from '../src/protocol/index.ts';
import { isLanguage, LANGUAGES, utter, type Language, type Message } from '../src/speech/index.ts';
import { buildVoicePack, createClipVoice, createTtsVoice, type Voice } from '../src/voice/index.ts';
import { formatMs, summarize, type Summary } from './stats.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    'espeak-count': { type: 'string', default: '300' },
    langs: { type: 'string', default: LANGUAGES.join(',') },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'Usage: npm run bench:voices [-- --count 10000] [-- --espeak-count 300] [-- --langs zh-CN,en-US,hi-IN] [-- --json]\n',
  );
  process.exit(0);
}
const count = positive(values.count, '--count');
const espeakCount = Math.min(count, positive(values['espeak-count'], '--espeak-count'));
const langs = values.langs.split(',').map((l) => l.trim());
for (const l of langs)
  if (!isLanguage(l)) throw new Error(`--langs: "${l}" is not a language; use ${LANGUAGES.join(', ')}`);

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${text}`);
  return n;
}

const CURRENCY: Readonly<Record<Language, string>> = { 'zh-CN': 'CNY', 'en-US': 'USD', 'hi-IN': 'INR' };

/** mulberry32: a small seeded PRNG, so every run announces the same payments. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Amounts spread over orders of magnitude (0.01 to 1,000,000.00), like a shop's day and a wholesaler's. */
function payments(lang: Language, n: number): Message[] {
  const r = rng(20240601);
  return Array.from({ length: n }, () => ({
    type: 'payment',
    payment: {
      amount: Math.max(1, Math.floor(10 ** (r() * 8))),
      currency: CURRENCY[lang],
      channel: CHANNELS[Math.floor(r() * CHANNELS.length)]!,
      kind: r() < 0.1 ? 'refund' : 'payment',
    },
  }));
}

/** Milliseconds from the notification (before the sentence is built) to the PCM being ready. */
async function latencies(voice: Voice, lang: Language, messages: Message[]): Promise<number[]> {
  const out: number[] = [];
  for (const m of messages) {
    const t = performance.now();
    await voice.render(utter(m, lang), lang);
    out.push(performance.now() - t);
  }
  return out;
}

/** The fallback engine, counting the announcements that needed it (a clip missing from the pack). */
function countingFallback(engine: TtsEngine): TtsEngine & { calls: number } {
  const counted = {
    name: engine.name,
    calls: 0,
    synthesize(text: string, lang: Language) {
      counted.calls += 1;
      return engine.synthesize(text, lang);
    },
  };
  return counted;
}

const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const engine = createEspeakEngine();
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-bench-voices-'));
const started = performance.now();
await engine.synthesize('1', 'zh-CN'); // load the wasm once, so build times are per language only
const initMs = performance.now() - started;

const builds: Record<string, { clips: number; bytes: number; ms: number }> = {};
const latency: Record<string, Summary> = {};
const fallbacks: Record<string, number> = {};
try {
  for (const lang of langs as Language[]) {
    progress(`recording the ${lang} voice pack`);
    const t = performance.now();
    const pack = await buildVoicePack({ lang, engine, outDir: path.join(workDir, lang) });
    builds[lang] = { clips: pack.clips.size, bytes: pack.bytes, ms: performance.now() - t };

    const messages = payments(lang, count);
    const fallback = countingFallback(engine);
    progress(`clips: ${count} ${lang} announcements`);
    latency[`clips ${lang}`] = summarize(
      await latencies(createClipVoice({ packs: { [lang]: pack }, fallback }), lang, messages),
    );
    fallbacks[lang] = fallback.calls;
    progress(`espeak: ${espeakCount} ${lang} announcements`);
    latency[`espeak ${lang}`] = summarize(
      await latencies(createTtsVoice(engine), lang, messages.slice(0, espeakCount)),
    );
  }
} finally {
  fs.rmSync(workDir, { recursive: true, force: true });
}

if (values.json) {
  process.stdout.write(
    `${JSON.stringify({ node: process.version, count, espeakCount, espeakInitMs: initMs, builds, latency, fallbacks })}\n`,
  );
} else {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`payspeaker voices bench — Node ${process.version}, ${os.cpus().length} cores`);
  out(
    `clips: ${count} announcements per language; espeak: the first ${espeakCount} of them (synthesis is slow; --espeak-count N)`,
  );
  out(`\nvoice-pack build (eSpeak NG, warm; wasm init ${initMs.toFixed(0)} ms once)`);
  for (const [lang, b] of Object.entries(builds)) {
    out(
      `  ${lang.padEnd(6)} ${String(b.clips).padStart(4)} clips  ${(b.bytes / 1024 / 1024).toFixed(1).padStart(5)} MB  ${(b.ms / 1000).toFixed(2).padStart(6)} s`,
    );
  }
  out('\nnotification → PCM ready');
  for (const [name, s] of Object.entries(latency)) {
    const lang = name.split(' ')[1]!;
    const note = name.startsWith('clips') ? `  fallbacks ${fallbacks[lang]}` : '';
    out(`  ${name.padEnd(13)} ${formatMs(s)}${note}`);
  }
}
