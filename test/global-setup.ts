/**
 * Once per test run, before any test file loads:
 * - one voice-pack cache for the whole run, in a temp folder: device processes started by tests
 *   record their packs there once, and the user's own cache is never touched;
 * - the system programs the tests need (test/support/prerequisites.ts): what is missing is
 *   installed with apt-get where it can be (root or `sudo -n`, not PAYSPEAKER_TEST_NO_INSTALL=1);
 *   what is still missing makes its tests skip, each naming the feature and the install command.
 * After the run: one summary of everything skipped for a missing program. With CI set, such a
 * skip fails the run: nothing goes untested silently there.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { aptAccess, aptGet, flag } from './support/apt.ts';
import {
  installCommand,
  missingPrograms,
  PREREQUISITES,
  SKIP_LOG_ENV,
  type ProgramId,
  type SkipRecord,
} from './support/prerequisites.ts';

const say = (line: string) => console.log(`test set-up: ${line}`);
const describeIds = (ids: ProgramId[]) =>
  ids.map((id) => `${PREREQUISITES[id].program} for ${PREREQUISITES[id].feature}`).join('; ');

export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-test-voicepacks-'));
  process.env.PAYSPEAKER_VOICEPACK_DIR = dir;
  // Test files (forked after this) append what they skip here; the teardown reads it.
  const skipDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-test-skips-'));
  const skipLog = path.join(skipDir, 'skips.jsonl');
  process.env[SKIP_LOG_ENV] = skipLog;
  const whyMissing = provide();
  return () => {
    try {
      summarize(fs.existsSync(skipLog) ? fs.readFileSync(skipLog, 'utf8') : '', whyMissing);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(skipDir, { recursive: true, force: true });
    }
  };
}

/** Installs what is missing if it can; returns, for each program still missing, why the set-up could not provide it. */
function provide(): Map<ProgramId, string> {
  const missing = missingPrograms();
  if (!missing.length) return new Map();
  const packages = [...new Set(missing.flatMap((id) => PREREQUISITES[id].packages))];
  const access = aptAccess();
  if ('reason' in access) {
    say(
      `not installing ${packages.join(' ')} (${describeIds(missing)}): ${access.reason}; their tests will skip. To run them: ${installCommand(missing)}`,
    );
    return new Map(missing.map((id) => [id, access.reason]));
  }
  say(`installing ${packages.join(' ')} (${describeIds(missing)}) with ${[...access.prefix, 'apt-get'].join(' ')}`);
  const started = Date.now();
  // A failed update (a mirror down) may still leave lists good enough to install from: go on, report both.
  const failures = [
    aptGet(access.prefix, ['update', '-qq']),
    aptGet(access.prefix, ['install', '-y', '-qq', '--no-install-recommends', ...packages]),
  ];
  const still = missingPrograms(missing);
  const failure = failures.filter((f) => f !== null).join('\n  ');
  if (!still.length) {
    say(
      `installed ${packages.join(' ')} in ${Math.round((Date.now() - started) / 1000)} s${failure ? ` (after: ${failure})` : ''}`,
    );
    return new Map();
  }
  const reason =
    failure ||
    `apt-get installed ${packages.join(' ')} but ${still.map((id) => PREREQUISITES[id].program).join(', ')} still cannot be found`;
  say(`could not install ${describeIds(still)}; their tests will skip:\n  ${reason}`);
  return new Map(still.map((id) => [id, reason]));
}

/** Prints what was skipped for a missing program (or that nothing was); in CI, fails the run if anything was. */
function summarize(log: string, whyMissing: Map<ProgramId, string>): void {
  const files = new Map<ProgramId, Set<string>>();
  for (const line of log.split('\n').filter(Boolean)) {
    const { id, file } = JSON.parse(line) as SkipRecord;
    files.set(id, (files.get(id) ?? new Set()).add(file));
  }
  if (!files.size) return say('nothing was skipped for a missing program');
  const ids = [...files.keys()];
  say(`tests skipped for a missing program (${ids.length}):`);
  for (const id of ids) {
    const p = PREREQUISITES[id];
    console.log(
      `  - ${p.feature}: needs ${p.program}; install: ${installCommand([id])}; skipped in ${[...files.get(id)!].sort().join(', ')}`,
    );
  }
  if (!flag('CI')) return;
  const reasons = [
    ...new Set(ids.map((id) => whyMissing.get(id) ?? 'it was found at set-up but not by the test files')),
  ];
  console.error(
    `test set-up: FAILED: CI=${process.env.CI} and tests were skipped because ${ids.map((id) => PREREQUISITES[id].program).join(', ')} ` +
      `${ids.length > 1 ? 'are' : 'is'} missing; the set-up could not install ${ids.length > 1 ? 'them' : 'it'}: ${reasons.join('; ')}`,
  );
  process.exitCode = 1;
}
