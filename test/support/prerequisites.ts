/**
 * Every system program a test needs, where to look for it, the Debian package that provides it,
 * and what goes untested without it. test/global-setup.ts installs what is missing (apt-get) before
 * any test file loads; a test file calls `needs()` at import time for its `describe.skipIf`, which
 * also records the skip so the run ends with a summary of them (and fails in CI).
 *
 * Probes only look at the file system (no spawning): cheap enough for every test file's import.
 */
import { accessSync, appendFileSync, constants, statSync } from 'node:fs';
import path from 'node:path';

export interface Prerequisite {
  /** The program as people know it, e.g. "redis-server". */
  program: string;
  /** Every one must be found: names on PATH, or absolute paths. */
  files: string[];
  /** Data files (fonts) that must exist as well: absolute paths, readable, not run. */
  data?: string[];
  /** Also searched (after PATH) for names: Debian puts daemons in /usr/sbin, often not on a user's PATH. */
  sbin?: boolean;
  /** Debian packages that provide it. */
  packages: string[];
  /** Homebrew formula, where there is one (macOS). */
  brew?: string;
  /** Only meaningful on these platforms (elsewhere its tests are platform skips, not missing programs). */
  platforms?: NodeJS.Platform[];
  /** What is left untested without it. */
  feature: string;
}

/** The sshd the flash tests start (test/support/sshd.ts); PAYSPEAKER_SSHD points at another. */
export const SSHD = process.env.PAYSPEAKER_SSHD ?? '/usr/sbin/sshd';

/** The Chromium the browser tests drive (test/support/browser.ts); PAYSPEAKER_CHROMIUM points at another. */
export const CHROMIUM = process.env.PAYSPEAKER_CHROMIUM ?? '/usr/bin/chromium';

/** A CJK font: without one, the console's Chinese prompts are boxes in its screenshots. */
export const CJK_FONT = '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc';

export const PREREQUISITES = {
  aplay: {
    program: 'aplay',
    files: ['aplay'],
    packages: ['alsa-utils'],
    platforms: ['linux'],
    feature: 'ALSA playback (player sink, device --audio player, the Pi board)',
  },
  text2wave: {
    program: 'text2wave',
    files: ['text2wave'],
    // festival alone has no voice: kal is its small English one.
    packages: ['festival', 'festvox-kallpc16k'],
    platforms: ['linux'],
    feature: "the say engine's English voice on Linux (festival)",
  },
  mosquitto: {
    program: 'mosquitto',
    files: ['mosquitto'],
    sbin: true,
    packages: ['mosquitto'],
    brew: 'mosquitto',
    feature: 'interop with another broker (Mosquitto)',
  },
  'redis-server': {
    program: 'redis-server',
    files: ['redis-server'],
    sbin: true,
    packages: ['redis-server'],
    brew: 'redis',
    feature: 'broker --cluster / --persistence (Redis)',
  },
  sshd: {
    program: 'sshd',
    files: [SSHD],
    packages: ['openssh-server'],
    platforms: ['linux', 'darwin', 'freebsd'],
    feature: 'flash over SSH (a real sshd stands in for the Pi)',
  },
  'ssh-keygen': {
    program: 'ssh-keygen',
    files: ['ssh-keygen'],
    packages: ['openssh-client'],
    feature: "known_hosts against OpenSSH's own fingerprints and hashes, flash's keys",
  },
  gpiod: {
    program: 'gpiodetect/gpiomon/gpioset',
    files: ['gpiodetect', 'gpiomon', 'gpioset'],
    packages: ['gpiod'],
    platforms: ['linux'],
    feature: "the Pi board's GPIO through the real libgpiod tools",
  },
  chromium: {
    program: 'chromium',
    files: [CHROMIUM],
    // Debian's own build: playwright-core drives it, and nothing is downloaded at test time.
    packages: ['chromium'],
    // Elsewhere, PAYSPEAKER_CHROMIUM names a Chromium (there is no Homebrew formula, only a cask).
    ...(process.env.PAYSPEAKER_CHROMIUM ? {} : { platforms: ['linux'] as NodeJS.Platform[] }),
    feature: 'the web console in a real browser (headless Chromium driven by playwright-core)',
  },
  'cjk-font': {
    program: 'a CJK font (WenQuanYi Micro Hei)',
    files: [],
    data: [CJK_FONT],
    packages: ['fonts-wqy-microhei'],
    platforms: ['linux'],
    feature: "Chinese text in the web console's screenshots",
  },
} satisfies Record<string, Prerequisite>;

export type ProgramId = keyof typeof PREREQUISITES;
export const PROGRAM_IDS = Object.keys(PREREQUISITES) as ProgramId[];

// Where Debian and Homebrew put daemons, searched after PATH for the `sbin` ones.
const SBIN_DIRS = [
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/opt/homebrew/sbin',
  '/opt/homebrew/bin',
];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Where `file` is (absolute paths as given, names searched on PATH and, with `sbin`, in the sbin folders), or null. */
export function which(file: string, sbin = false): string | null {
  if (path.isAbsolute(file)) return executable(file) ? file : null;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of sbin ? [...dirs, ...SBIN_DIRS] : dirs) {
    if (executable(path.join(dir, file))) return path.join(dir, file);
  }
  return null;
}

/** Whether the prerequisite means anything on this platform. */
export function applies(id: ProgramId): boolean {
  const p: Prerequisite = PREREQUISITES[id];
  return !p.platforms || p.platforms.includes(process.platform);
}

/** True if every file of the program is found. */
export function available(id: ProgramId): boolean {
  const p: Prerequisite = PREREQUISITES[id];
  return p.files.every((f) => which(f, p.sbin) !== null) && (p.data ?? []).every(readable);
}

/** Programs that apply here and are not found. */
export function missingPrograms(ids: readonly ProgramId[] = PROGRAM_IDS): ProgramId[] {
  return ids.filter((id) => applies(id) && !available(id));
}

/** The command a person runs to get it, e.g. "sudo apt-get install redis-server". */
export function installCommand(ids: readonly ProgramId[]): string {
  const ps: Prerequisite[] = ids.map((id) => PREREQUISITES[id]);
  if (process.platform === 'darwin' && ps.every((p) => p.brew))
    return `brew install ${ps.map((p) => p.brew).join(' ')}`;
  return `sudo apt-get install ${[...new Set(ps.flatMap((p) => p.packages))].join(' ')}`;
}

/** Set by test/global-setup.ts: the file where test files record what they skipped for a missing program. */
export const SKIP_LOG_ENV = 'PAYSPEAKER_TEST_SKIP_LOG';

export interface SkipRecord {
  id: ProgramId;
  file: string;
}

export interface Need {
  /** True when the tests cannot run here: a program is missing, or this platform does not have it. */
  missing: boolean;
  /** '' when nothing is missing, else what goes untested and the command that installs it (for `skip(missing, reason)`). */
  reason: string;
  /** The reason as a title suffix: '' or " (skipped: …)". */
  note: string;
}

/**
 * For `describe.skipIf(x.missing)(`title${x.note}`, …)`, called at a test file's top level. A missing
 * program is recorded for the run's summary; a platform that cannot have it (aplay on macOS) is not.
 */
export function needs(...ids: ProgramId[]): Need {
  const foreign = ids.filter((id) => !applies(id));
  const missing = missingPrograms(ids);
  if (foreign.length)
    return need(`${foreign.map((id) => PREREQUISITES[id].program).join(', ')} is not for ${process.platform}`);
  if (!missing.length) return need('');
  record(missing);
  return need(`${missing.map(untested).join('; ')}: ${installCommand(missing)}`);
}

const need = (reason: string): Need => ({ missing: !!reason, reason, note: reason && ` (skipped: ${reason})` });
const untested = (id: ProgramId) =>
  `${PREREQUISITES[id].program} is missing, so ${PREREQUISITES[id].feature} goes untested`;
const said = new Set<ProgramId>();

function record(ids: ProgramId[]): void {
  // One line per program in the test file's output: the default reporter does not list skipped tests' titles.
  for (const id of ids.filter((i) => !said.has(i))) console.log(`skipping: ${untested(id)}: ${installCommand([id])}`);
  ids.forEach((id) => said.add(id));
  const log = process.env[SKIP_LOG_ENV];
  if (!log) return; // run outside vitest's global set-up: nothing collects the summary
  // The test file that asked: the first *.test.ts frame of this call (no vitest import: bench/ uses this module too).
  const frame = /([^\s(]+\.test\.[cm]?[jt]s):\d+/.exec(new Error().stack ?? '')?.[1] ?? '?';
  const file = path.relative(process.cwd(), frame.replace(/^file:\/\//, ''));
  appendFileSync(log, ids.map((id) => `${JSON.stringify({ id, file } satisfies SkipRecord)}\n`).join(''));
}
