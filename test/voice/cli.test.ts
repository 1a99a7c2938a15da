/**
 * `payspeaker voicepack build | list`: in process through the command object, and as a user
 * runs it, as a child process of bin/payspeaker.js.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { voicepackCommand } from '../../tools/cli/commands/voicepack.ts';
import type { CliContext } from '../../tools/cli/context.ts';
import { CliError } from '../../tools/cli/exit-codes.ts';
import { espeakInstalled } from '../../src/audio/tts/espeak.ts';
import { silentLogger } from '../../src/log.ts';
import { vocabulary } from '../../src/speech/index.ts';
import { loadVoicePack, MANIFEST_FILE } from '../../src/voice/index.ts';
import { runCli } from '../support/cli.ts';
import { ESPEAK_MISSING, removeTempDirs, tempDir } from './helpers.ts';

function context(): CliContext & { lines: string[] } {
  const lines: string[] = [];
  return { settings: {}, configFile: null, lines, print: (l) => void lines.push(l), logger: () => silentLogger };
}

async function run(args: string[]): Promise<string[]> {
  const ctx = context();
  await voicepackCommand(ctx).parseAsync(args, { from: 'user' });
  return ctx.lines;
}

describe.skipIf(!espeakInstalled())(`voicepack command (skipped if ${ESPEAK_MISSING})`, () => {
  afterAll(removeTempDirs);
  const clips = vocabulary('zh-CN').length;

  it('builds into the cache, lists it, and prints a summary', { timeout: 60_000 }, async () => {
    const cacheDir = tempDir('cli-cache');
    const [line] = await run(['build', '--lang', 'zh-CN', '--cache-dir', cacheDir]);
    expect(line).toMatch(
      new RegExp(
        `^built zh-CN voice pack [0-9a-f]{16}: ${clips} clips, [\\d.]+ MB, [\\d.]+ s → ${cacheDir}/zh-CN-espeak-ng$`,
      ),
    );
    const listed = (await run(['list', '--cache-dir', cacheDir, '--json'])).map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    expect(listed).toEqual([
      expect.objectContaining({ language: 'zh-CN', engine: 'espeak-ng', clips, status: 'current' }),
    ]);
    // An explicit build replaces even a current pack.
    await run(['build', '--lang', 'zh-CN', '--cache-dir', cacheDir]);
    const [relisted] = (await run(['list', '--cache-dir', cacheDir, '--json'])).map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    expect(relisted!.builtAt).not.toBe(listed[0]!.builtAt);
    expect(fs.readdirSync(cacheDir)).toEqual(['zh-CN-espeak-ng']);
    const table = await run(['list', '--cache-dir', cacheDir]);
    expect(table[0]).toMatch(/^LANG\s+ENGINE\s+VERSION\s+CLIPS\s+SIZE\s+STATUS\s+DIR$/);
    expect(table[1]).toMatch(/^zh-CN\s+espeak-ng\s+[0-9a-f]{16}\s+\d+\s+[\d.]+ MB\s+current\s+/);
  });

  it('says when the cache is empty', async () => {
    const [line] = await run(['list', '--cache-dir', tempDir('cli-empty')]);
    expect(line).toMatch(/^no voice packs in .*voicepack build --lang zh-CN/);
  });

  it.runIf(process.platform === 'linux')(
    'refuses (exit 2, before recording anything) and says the way out when the engine cannot speak the language',
    async () => {
      const err = await run(['build', '--lang', 'zh-CN', '--engine', 'say', '--out', tempDir('cli-say')]).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(2);
      expect((err as Error).message).toMatch(
        /--engine say cannot record the zh-CN voice pack: .*use --engine espeak \(the default\), which reads every language/,
      );
    },
  );

  it(
    'runs as a child process: build --out --json with progress on stderr, then list from PAYSPEAKER_VOICEPACK_DIR',
    { timeout: 60_000 },
    async () => {
      const cacheDir = tempDir('cli-child');
      // Built straight into the cache's folder for zh-CN/eSpeak, so `list` finds it there.
      const out = path.join(cacheDir, 'zh-CN-espeak-ng');
      const r = await runCli(['voicepack', 'build', '--lang', 'zh-CN', '--out', out, '--json'], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(summary).toMatchObject({ dir: out, language: 'zh-CN', engine: 'espeak-ng', sampleRate: 22_050, clips });
      expect(r.stderr).toContain(`recording zh-CN voice pack: ${clips}/${clips} clips`);
      expect(fs.existsSync(path.join(out, MANIFEST_FILE))).toBe(true);
      await expect(loadVoicePack(out)).resolves.toMatchObject({ version: summary.version });

      const list = await runCli(['voicepack', 'list', '--json'], { env: { PAYSPEAKER_VOICEPACK_DIR: cacheDir } });
      expect(list.code, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout)).toMatchObject({ dir: out, version: summary.version, status: 'current', clips });
    },
  );

  it('exits 2 on a language it does not know', async () => {
    const r = await runCli(['voicepack', 'build', '--lang', 'fr-FR']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/'fr-FR' is invalid.*zh-CN, en-US, hi-IN/);
  });
});
