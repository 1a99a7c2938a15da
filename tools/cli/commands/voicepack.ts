/**
 * `payspeaker voicepack build --lang zh-CN` records a voice pack (into the cache a speaker uses,
 * or --out DIR); `payspeaker voicepack list` shows the cached ones. Progress goes to stderr,
 * results to stdout.
 */
import path from 'node:path';
import { Command, Option } from 'commander';
import { createTtsEngine, TTS_ENGINES, type TtsEngineName } from '../../../src/audio/tts/index.ts';
import { sayUnsupported } from '../../../src/audio/tts/say.ts';
import { LANGUAGES, type Language } from '../../../src/speech/index.ts';
import {
  buildVoicePack,
  defaultVoicePackDir,
  listVoicePacks,
  rebuildVoicePack,
  type PackSummary,
  type VoicePack,
} from '../../../src/voice/index.ts';
import type { LogLevel } from '../../../src/log.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';

interface BuildFlags {
  lang: Language;
  engine: TtsEngineName;
  out?: string;
  cacheDir?: string;
  json?: boolean;
  logLevel: LogLevel;
}

interface ListFlags {
  cacheDir?: string;
  json?: boolean;
}

const cacheDirOption = () =>
  new Option(
    '--cache-dir <dir>',
    'where cached voice packs live (env PAYSPEAKER_VOICEPACK_DIR, default: the user cache dir)',
  );

export function voicepackCommand(ctx: CliContext): Command {
  return new Command('voicepack')
    .description('record and list voice packs: the prerecorded clips a speaker joins into announcements')
    .addCommand(buildCommand(ctx).exitOverride()) // main() turns Commander's errors into exit code 2;
    .addCommand(listCommand(ctx).exitOverride()); // it only reaches top-level commands, so nested ones opt in
}

function buildCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  return new Command('build')
    .description('record every clip of a language into a voice pack (replaces the cached one)')
    .addOption(
      new Option('--lang <lang>', 'language of the pack')
        .choices(LANGUAGES)
        .env('PAYSPEAKER_LANG')
        .default(s.lang ?? 'zh-CN'),
    )
    .addOption(
      new Option('--engine <engine>', 'TTS engine that records the clips').choices(TTS_ENGINES).default('espeak'),
    )
    .option('--out <dir>', 'write the pack to this folder instead of the cache')
    .addOption(cacheDirOption())
    .addOption(commonOptions.json())
    .addOption(commonOptions.logLevel(s))
    .action(async (flags: BuildFlags) => {
      const log = ctx.logger({ level: flags.logLevel, json: Boolean(flags.json), name: 'voicepack' });
      if (flags.engine === 'say') refuseUnspeakableSay(flags.lang);
      const engine = createTtsEngine(flags.engine);
      const progress = progressPrinter(flags.lang);
      const started = performance.now();
      let pack: VoicePack;
      try {
        pack = flags.out
          ? await buildVoicePack({
              lang: flags.lang,
              engine,
              outDir: path.resolve(flags.out),
              onProgress: progress.update,
            })
          : await rebuildVoicePack(flags.lang, { engine, cacheDir: flags.cacheDir, log, onProgress: progress.update });
      } catch (err) {
        throw new CliError(`could not build the ${flags.lang} voice pack: ${(err as Error).message}`, EXIT.FAILURE);
      } finally {
        progress.done();
      }
      const ms = Math.round(performance.now() - started);
      ctx.print(flags.json ? JSON.stringify(packJson(pack, ms)) : describeBuilt(pack, ms));
    });
}

/**
 * Refuses before recording anything when the system voice cannot read the language. The say
 * engine's own reason ends with advice for `device --voice-engine`; here the flag is --engine.
 */
function refuseUnspeakableSay(lang: Language): void {
  const why = sayUnsupported(lang, process.platform);
  if (!why) return;
  const reason = why.replace(/^say: /, '').replace(/: use --voice-engine .*$/, '');
  throw new CliError(
    `--engine say cannot record the ${lang} voice pack: ${reason}: use --engine espeak (the default), which reads every language`,
    EXIT.USAGE,
  );
}

function listCommand(ctx: CliContext): Command {
  return new Command('list')
    .description('list cached voice packs with their language, version, clips and size')
    .addOption(cacheDirOption())
    .addOption(commonOptions.json())
    .action(async (flags: ListFlags) => {
      const dir = flags.cacheDir ?? defaultVoicePackDir();
      const packs = await listVoicePacks(dir, TTS_ENGINES.map(createTtsEngine));
      if (flags.json) {
        for (const p of packs) ctx.print(JSON.stringify(p));
        return;
      }
      if (packs.length === 0) {
        ctx.print(
          `no voice packs in ${dir} (a speaker records one on first use, or run \`payspeaker voicepack build --lang zh-CN\`)`,
        );
        return;
      }
      for (const line of table(packs)) ctx.print(line);
    });
}

/**
 * On a terminal, one counter line updated in place; elsewhere (CI logs, pipes) a line every
 * tenth of the clips, so a log shows progress without thousands of lines.
 */
function progressPrinter(lang: Language): {
  update: (done: number, total: number, key: string) => void;
  done: () => void;
} {
  const tty = Boolean(process.stderr.isTTY);
  let shown = false;
  return {
    update(done, total, key) {
      const line = `recording ${lang} voice pack: ${done}/${total} clips (${key})`;
      if (tty) {
        process.stderr.write(`\r\x1b[2K${line}`);
        shown = true;
      } else if (done === total || done % Math.max(1, Math.ceil(total / 10)) === 0) {
        process.stderr.write(`${line}\n`);
      }
    },
    done() {
      if (shown) process.stderr.write('\n');
    },
  };
}

function packJson(pack: VoicePack, ms: number) {
  const { language, version, engine, sampleRate, builtAt } = pack.manifest;
  return {
    dir: pack.dir,
    language,
    version,
    engine,
    sampleRate,
    builtAt,
    clips: pack.clips.size,
    bytes: pack.bytes,
    ms,
  };
}

function describeBuilt(pack: VoicePack, ms: number): string {
  return `built ${pack.language} voice pack ${pack.version}: ${pack.clips.size} clips, ${formatBytes(pack.bytes)}, ${(ms / 1000).toFixed(1)} s → ${pack.dir}`;
}

function table(packs: PackSummary[]): string[] {
  const rows = packs.map((p) => [
    p.language ?? '?',
    p.engine ?? '?',
    p.version ?? '-',
    String(p.clips),
    formatBytes(p.bytes),
    p.status,
    p.dir,
  ]);
  const head = ['LANG', 'ENGINE', 'VERSION', 'CLIPS', 'SIZE', 'STATUS', 'DIR'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
