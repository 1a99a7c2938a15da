/**
 * The README's command examples against the real CLI. Every `npx payspeaker …` line in a code
 * block names a command (and subcommand) that exists and only options its `--help` lists, so a
 * renamed flag cannot leave the README behind. The cheap examples — those that need no broker,
 * no device and no network — are run for real and must exit 0.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

const README = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');

interface Example {
  line: string;
  /** Words after `payspeaker` up to the first option: the command and any subcommand or arguments. */
  words: string[];
  options: string[];
}

/** `npx payspeaker …` lines inside ``` blocks, one example per command (a `&&` chain gives several). */
function examples(): Example[] {
  const found: Example[] = [];
  for (const block of README.matchAll(/```(?:sh|bash|console)?\n([\s\S]*?)```/g)) {
    for (const raw of block[1]!.split('\n')) {
      const line = raw.replace(/^\$ /, '').replace(/\s+#.*$/, '');
      for (const part of line.split('&&')) {
        const m = /(?:^|\s)(?:npx )?payspeaker ((?:[^|]|\|\|)*)/.exec(part.trim());
        if (!m || !part.trim().startsWith('npx payspeaker')) continue;
        // [--identity FILE] style optional parts still name options.
        const tokens = m[1]!.replace(/[[\]]/g, ' ').trim().split(/\s+/);
        const first = tokens.findIndex((t) => t.startsWith('-'));
        found.push({
          line: part.trim(),
          words: first === -1 ? tokens : tokens.slice(0, first),
          options: tokens.filter((t) => t.startsWith('--')).map((t) => t.split('=')[0]!),
        });
      }
    }
  }
  return found;
}

/** `payspeaker CMD [SUB] --help`, cached: the command path is CMD, plus SUB when CMD lists it as a subcommand. */
const helps = new Map<string, Promise<string>>();
function help(words: string[]): Promise<string> {
  const key = words.join(' ');
  let text = helps.get(key);
  if (!text) {
    text = runCli([...words, '--help'], { timeoutMs: 60_000 }).then((r) => {
      if (r.code !== 0) throw new Error(`payspeaker ${key} --help exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    });
    helps.set(key, text);
  }
  return text;
}

async function commandPath(words: string[]): Promise<string[]> {
  if (words.length === 0) return [];
  const top = await help([words[0]!]);
  const subcommands = /\nCommands:\n([\s\S]*?)(?:\n\n|$)/.exec(top)?.[1] ?? '';
  const sub = words[1];
  return sub && new RegExp(`^\\s+${sub}\\b`, 'm').test(subcommands) ? [words[0]!, sub] : [words[0]!];
}

const all = examples();

describe("the README's command examples", () => {
  it('are found (the parser still reads the README)', () => {
    expect(all.length).toBeGreaterThan(30);
    expect(all.map((e) => e.words[0])).toEqual(expect.arrayContaining(['broker', 'pay', 'fleet', 'provision']));
  });

  it('name commands that exist and only options their --help lists', { timeout: 180_000 }, async () => {
    const problems: string[] = [];
    // A few at a time: each --help is a Node process starting tsx.
    const queue = [...all];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let e = queue.shift(); e; e = queue.shift()) {
          const cmd = await commandPath(e.words);
          const text = cmd.length ? await help(cmd) : await help([]);
          for (const option of e.options) {
            if (option === '--help' || option === '--version') continue;
            if (!new RegExp(`(^|[\\s,])${option}(?=[\\s,=<[]|$)`, 'm').test(text))
              problems.push(`${e.line}: payspeaker ${cmd.join(' ')} has no ${option}`);
          }
        }
      }),
    );
    expect(problems).toEqual([]);
  });

  it('run for real, in order, where they need no broker, device or network', { timeout: 180_000 }, async () => {
    // These README lines work on a fresh machine with nothing running: in a fresh folder and data dir.
    const CHEAP = ['provision', 'devices', 'certs', 'revoke', 'voicepack build'];
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-readme-'));
    const env = { PAYSPEAKER_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-readme-data-')) };
    const ran: string[] = [];
    for (const e of all) {
      const cmd = e.words.slice(0, e.words[0] === 'voicepack' ? 2 : 1).join(' ');
      if (!CHEAP.includes(cmd) || e.words.some((w) => /^[A-Z]+$/.test(w) && w !== 'SPK')) continue;
      // One device: a second plain `provision SPK-0001` (another section's example) is refused, as it should be.
      if (cmd === 'provision' && !e.options.includes('--update-ca') && ran.includes('provision')) continue;
      const args = e.line
        .replace(/^npx payspeaker\s*/, '')
        .split(/\s+/)
        .filter(Boolean);
      const r = await runCli(args, { cwd, env, timeoutMs: 120_000 });
      expect({ line: e.line, code: r.code }, r.stderr).toEqual({ line: e.line, code: 0 });
      ran.push(cmd);
    }
    expect(new Set(ran)).toEqual(new Set(CHEAP));
  });
});
