/**
 * The fleet's processes run compiled JavaScript, not TypeScript through tsx. tsx compiles with
 * esbuild's `keepNames`, which wraps every function the code creates in a `__name(fn, "…")`
 * call that defines a property on it: each closure then carries its own property store. A
 * speaker makes dozens of closures, a worker holds thousands of speakers, and in a heap
 * snapshot of 2,000 speakers those stores were ~8 KB per speaker, with `__name` itself showing
 * in CPU profiles of the payment path (docs/BENCHMARKS.md §4). So each entry point is bundled
 * once per change (its dependencies stay in node_modules), cached under
 * node_modules/.cache/payspeaker, and forked with plain node. If that cannot be done (a
 * read-only install), the entry runs through tsx as before: slower, never wrong.
 * PAYSPEAKER_FLEET_TSX=1 forces tsx (to compare, or to debug with the TypeScript as written).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const built = new Map<string, string | null>();

/** The bundled JavaScript of the TypeScript entry `file` (absolute path), or null to use tsx. */
export function compiledEntry(file: string): string | null {
  if (process.env.PAYSPEAKER_FLEET_TSX === '1') return null;
  if (!built.has(file)) built.set(file, compile(file));
  return built.get(file)!;
}

function compile(file: string): string | null {
  try {
    const out = buildSync({
      entryPoints: [file],
      bundle: true,
      write: false,
      outfile: 'entry.mjs', // names the output only; nothing is written there
      platform: 'node',
      format: 'esm',
      target: 'node18', // the firmware's floor (a Raspberry Pi's apt)
      packages: 'external',
      sourcemap: 'inline', // stack traces name the .ts files (forked with --enable-source-maps)
      absWorkingDir: packageRoot,
      logLevel: 'silent',
    });
    const code = out.outputFiles[0]!.contents;
    const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
    const dir = path.join(packageRoot, 'node_modules', '.cache', 'payspeaker');
    const target = path.join(dir, `${path.basename(file, '.ts')}-${hash}.mjs`);
    if (!fs.existsSync(target)) {
      fs.mkdirSync(dir, { recursive: true });
      // Written aside and renamed: two fleets starting at once never run a half-written file.
      const tmp = `${target}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, code);
      fs.renameSync(tmp, target);
      prune(dir, path.basename(file, '.ts'), target);
    }
    return target;
  } catch {
    return null;
  }
}

/** Older builds of the same entry, untouched for a day: no fleet still starting from them. */
function prune(dir: string, name: string, keep: string): void {
  const dayAgo = Date.now() - 86_400_000;
  for (const f of fs.readdirSync(dir)) {
    const file = path.join(dir, f);
    if (file === keep || !f.startsWith(`${name}-`)) continue;
    try {
      if (fs.statSync(file).mtimeMs < dayAgo) fs.rmSync(file);
    } catch {
      // gone already, or not ours to remove: harmless
    }
  }
}
