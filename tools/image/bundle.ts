/**
 * esbuild: one CommonJS file per program for Node 18 (the Pi's apt Node), everything inside but
 * Node's built-ins. eSpeak is the exception: the voice loads it at run time by name (it is GPL
 * and optional), so the image carries the package beside firmware.cjs instead.
 */
import path from 'node:path';
import * as esbuild from 'esbuild';
import { ESPEAK_PACKAGE } from '../../src/audio/tts/espeak.ts';

/** The repository root, where device/ and src/ live. */
export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

export const FIRMWARE_SOURCE = path.join(REPO_ROOT, 'device', 'boot', 'main.ts');
export const LOADER_SOURCE = path.join(REPO_ROOT, 'device', 'boot', 'loader.ts');

/**
 * ESM code asks import.meta.url where it is (createRequire, for eSpeak); in a CJS bundle that
 * is the bundle file itself.
 */
const IMPORT_META_URL = '__payspeaker_import_meta_url';
const BANNER = `const ${IMPORT_META_URL} = require('node:url').pathToFileURL(__filename).href;`;

export interface BundleResult {
  bytes: number;
  /** Source files that went in, relative to the repository. */
  inputs: string[];
  warnings: string[];
}

export async function bundle(entry: string, outfile: string): Promise<BundleResult> {
  let result: esbuild.BuildResult<{ metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node18',
      format: 'cjs',
      external: [ESPEAK_PACKAGE],
      define: { 'import.meta.url': IMPORT_META_URL },
      banner: { js: BANNER },
      legalComments: 'eof',
      metafile: true,
      logLevel: 'silent',
      absWorkingDir: REPO_ROOT,
    });
  } catch (err) {
    const errors = (err as esbuild.BuildFailure).errors ?? [];
    const first = errors[0];
    const where = first?.location ? ` at ${first.location.file}:${first.location.line}` : '';
    throw new Error(
      `esbuild could not bundle ${path.relative(REPO_ROOT, entry)}: ${first?.text ?? (err as Error).message}${where}`,
      { cause: err },
    );
  }
  const inputs = Object.keys(result.metafile.inputs);
  // A native addon cannot be bundled and the Pi cannot `npm install`: better no image than a broken one.
  const native = inputs.find(
    (f) => f.endsWith('.node') || /node_modules\/(better-sqlite3|bindings|node-gyp-build)\//.test(f),
  );
  if (native)
    throw new Error(
      `${path.relative(REPO_ROOT, entry)} pulls in the native module ${native}: device code must not import it (the Pi cannot build native modules)`,
    );
  const out = Object.values(result.metafile.outputs)[0];
  return {
    bytes: out?.bytes ?? 0,
    inputs,
    warnings: result.warnings.map((w) => `${w.text}${w.location ? ` (${w.location.file}:${w.location.line})` : ''}`),
  };
}
