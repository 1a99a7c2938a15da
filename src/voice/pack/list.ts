/** What `voicepack list` shows: the packs in a cache folder, from their manifests (clips are not re-checked). */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { TtsEngine } from '../../audio/tts/engine.ts';
import { packVersion, readManifest, type Manifest } from './manifest.ts';

export interface PackSummary {
  dir: string;
  language?: string;
  engine?: string;
  version?: string;
  builtAt?: string;
  clips: number;
  /** Bytes of every file in the folder. */
  bytes: number;
  /** current: what this payspeaker would build; stale: will be rebuilt on next use; broken: unreadable manifest. */
  status: 'current' | 'stale' | 'broken';
  problem?: string;
}

/** `engines` are the ones this payspeaker has, to tell current packs from stale ones. */
export async function listVoicePacks(cacheDir: string, engines: TtsEngine[]): Promise<PackSummary[]> {
  let names: string[];
  try {
    names = (await readdir(cacheDir, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return Promise.all(names.sort().map((name) => summarize(path.join(cacheDir, name), engines)));
}

async function summarize(dir: string, engines: TtsEngine[]): Promise<PackSummary> {
  const bytes = await folderBytes(dir);
  let m: Manifest;
  try {
    m = await readManifest(dir);
  } catch (err) {
    return { dir, clips: 0, bytes, status: 'broken', problem: (err as Error).message };
  }
  const engine = engines.find((e) => e.name === m.engine);
  const current = engine !== undefined && packVersion(m.language, engine) === m.version;
  const base = { dir, language: m.language, engine: m.engine, version: m.version, builtAt: m.builtAt };
  return { ...base, clips: Object.keys(m.clips).length, bytes, status: current ? 'current' : 'stale' };
}

async function folderBytes(dir: string): Promise<number> {
  const files = await readdir(dir, { withFileTypes: true });
  const sizes = await Promise.all(
    files.filter((f) => f.isFile()).map(async (f) => (await stat(path.join(dir, f.name))).size),
  );
  return sizes.reduce((a, b) => a + b, 0);
}
