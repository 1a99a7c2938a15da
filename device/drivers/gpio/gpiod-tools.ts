/**
 * GpioChip over libgpiod's command-line tools (Debian/Raspberry Pi OS package `gpiod`, libgpiod
 * 1.6 on bookworm), spawned from Node: no native module to build on the Pi.
 *
 *   gpiodetect                                   lists chips: "gpiochip0 [pinctrl-bcm2711] (58 lines)"
 *   gpiomon -b [-B BIAS] -F '%o %e %s %n' CHIP N…  one line per edge: offset, 1 rising / 0 falling, s, ns
 *   gpioset --mode=signal CHIP N=V               drives a line until SIGTERM
 *
 * A requested line belongs to the process that requested it and is released when that process
 * exits, so a watch or an output is a child process: closing it is killing it. libgpiod 1.6's
 * gpioset cannot change a level it holds, so each change of level restarts it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import {
  chooseChip,
  GpioUnavailableError,
  type ChipInfo,
  type EdgeWatch,
  type GpioBackend,
  type GpioChip,
  type Level,
  type LineEdge,
  type OutputLine,
  type OutputOptions,
  type WatchOptions,
} from './chip.ts';

export interface GpiodToolsOptions {
  /** Environment for the tools (PATH decides which gpiomon runs). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** A tool still running after this long has requested its lines. Default 300 ms. */
  startupMs?: number;
}

/** libgpiod 1.6 answers "Permission denied" when the user may not open /dev/gpiochip*. */
const PERMISSION_HINT = ': add the user to the gpio group (sudo usermod -aG gpio $USER) and log in again';
const INSTALL_HINT = 'sudo apt install gpiod';
const STOP_GRACE_MS = 2000;

export function createGpiodToolsBackend(opts: GpiodToolsOptions = {}): GpioBackend {
  const env = opts.env ?? process.env;
  const startupMs = opts.startupMs ?? 300;
  return {
    name: 'gpiod-tools',
    async openChip(wanted) {
      const info = chooseChip(await listChips(env), wanted);
      if (typeof info === 'string') throw new GpioUnavailableError(info);
      return toolsChip(info, env, startupMs);
    },
  };
}

/** The chips gpiodetect lists. Throws GpioUnavailableError when the tools are missing, fail, or find none. */
export async function listChips(env: NodeJS.ProcessEnv = process.env): Promise<ChipInfo[]> {
  const result = await runTool('gpiodetect', [], env);
  if (result.missing)
    throw new GpioUnavailableError(`the gpiod tools are not installed (gpiodetect is not on PATH): ${INSTALL_HINT}`);
  if (result.code !== 0) {
    const why = lastLine(result.stderr) || `exit code ${result.code}`;
    throw new GpioUnavailableError(`gpiodetect failed: ${why}${/Permission denied/i.test(why) ? PERMISSION_HINT : ''}`);
  }
  const chips = parseGpiodetect(result.stdout);
  if (chips.length === 0) throw new GpioUnavailableError(`gpiodetect found no GPIO chip (${devNodes()})`);
  return chips;
}

/** Parses gpiodetect's "NAME [LABEL] (N lines)" lines; anything else is skipped. */
export function parseGpiodetect(stdout: string): ChipInfo[] {
  const chips: ChipInfo[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) \[(.*)\] \((\d+) lines\)$/.exec(line.trim());
    if (m) chips.push({ name: m[1]!, label: m[2]!, lines: Number(m[3]) });
  }
  return chips;
}

/**
 * One gpiomon output line → an edge. Our `-F '%o %e %s %n'` format first; libgpiod 1.6's
 * default ("event:  RISING EDGE offset: 17 timestamp: [  12.345]") too, should a wrapper drop -F.
 */
export function parseGpiomonLine(line: string): LineEdge | null {
  const custom = /^(\d+) ([01]) (\d+) (\d+)$/.exec(line.trim());
  if (custom)
    return { offset: Number(custom[1]), level: custom[2] === '1' ? 1 : 0, atMs: toMs(custom[3]!, custom[4]!) };
  const human = /^event:\s+(RISING|FALLING) EDGE offset: (\d+) timestamp: \[\s*(\d+)\.(\d+)\]$/.exec(line.trim());
  if (human)
    return { offset: Number(human[2]), level: human[1] === 'RISING' ? 1 : 0, atMs: toMs(human[3]!, human[4]!) };
  return null;
}

function toMs(seconds: string, nanoseconds: string): number {
  return Number(seconds) * 1000 + Number(nanoseconds) / 1e6;
}

export function gpiomonArgs(chip: string, offsets: readonly number[], bias: WatchOptions['bias']): string[] {
  return ['-b', ...(bias === 'as-is' ? [] : ['-B', bias]), '-F', '%o %e %s %n', chip, ...offsets.map(String)];
}

export function gpiosetArgs(chip: string, offset: number, level: Level): string[] {
  return ['--mode=signal', chip, `${offset}=${level}`];
}

function toolsChip(info: ChipInfo, env: NodeJS.ProcessEnv, startupMs: number): GpioChip {
  return {
    ...info,
    async watch(offsets, opts) {
      const held = await startHeld('gpiomon', gpiomonArgs(info.name, offsets, opts.bias), env, startupMs);
      let buffered = '';
      held.child.stdout!.setEncoding('utf8');
      held.child.stdout!.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const edge = parseGpiomonLine(line);
          if (edge) opts.onEdge(edge);
        }
      });
      held.onUnexpectedExit((why) =>
        opts.onFailure(new Error(`gpiomon stopped: ${why}; the buttons no longer work until the speaker restarts`)),
      );
      return { close: () => held.stop() } satisfies EdgeWatch;
    },
    output: (offset, opts) => heldOutput(info.name, offset, opts, env, startupMs),
  };
}

/** An output line: one gpioset at a time holds the level; a new level replaces the process. */
async function heldOutput(
  chip: string,
  offset: number,
  opts: OutputOptions,
  env: NodeJS.ProcessEnv,
  startupMs: number,
): Promise<OutputLine> {
  let held = await startHeld('gpioset', gpiosetArgs(chip, offset, opts.initial), env, startupMs);
  let applied: Level = opts.initial;
  let desired: Level = opts.initial;
  let failed = false;
  let pumping: Promise<void> | null = null;
  const watchExit = (h: Held) =>
    h.onUnexpectedExit((why) => {
      failed = true;
      opts.onFailure(new Error(`gpioset stopped: ${why}; the LED stays dark until the speaker restarts`));
    });
  watchExit(held);

  // Latest level wins: levels set while a restart is under way collapse into the last one.
  const pump = async () => {
    while (!failed && applied !== desired) {
      const target = desired;
      await held.stop();
      try {
        held = startHeldNow('gpioset', gpiosetArgs(chip, offset, target), env);
      } catch (err) {
        failed = true;
        opts.onFailure(err as Error);
        return;
      }
      watchExit(held);
      applied = target;
    }
  };
  const kick = () => {
    pumping ??= pump().finally(() => (pumping = null));
    return pumping;
  };

  return {
    offset,
    set(level) {
      desired = level;
      void kick();
    },
    async close(level) {
      if (level !== undefined) desired = level;
      await kick();
      failed = true; // nothing may restart it now
      await held.stop();
    },
  };
}

interface Held {
  child: ChildProcess;
  /** Called once if the process exits without `stop` having asked it to. */
  onUnexpectedExit(handler: (why: string) => void): void;
  /** SIGTERM (SIGKILL after 2 s); resolves once it has exited and the lines are free. */
  stop(): Promise<void>;
}

/** Starts a tool that holds lines, and waits `startupMs`: one that dies at once (busy line, no permission) rejects with its stderr. */
async function startHeld(tool: string, args: string[], env: NodeJS.ProcessEnv, startupMs: number): Promise<Held> {
  const held = startHeldNow(tool, args, env);
  const early = await Promise.race([held.exit, new Promise<null>((r) => setTimeout(() => r(null), startupMs))]);
  if (early) throw new GpioUnavailableError(`${tool} ${args.join(' ')} failed at start: ${early}`);
  return held;
}

function startHeldNow(tool: string, args: string[], env: NodeJS.ProcessEnv): Held & { exit: Promise<string> } {
  const child = spawn(tool, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stopping = false;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    if (stderr.length < 4096) stderr += c;
  });
  const exit = new Promise<string>((resolve) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      resolve(
        err.code === 'ENOENT' ? `${tool} is not on PATH (${INSTALL_HINT})` : `${tool} could not start: ${err.message}`,
      ),
    );
    child.on('close', (code, signal) => {
      const why = lastLine(stderr) || `exit ${code ?? signal}`;
      resolve(/Permission denied/i.test(why) ? `${why}${PERMISSION_HINT}` : why);
    });
  });
  // A holder outliving the firmware (killed by its loader, or exiting without closing the board)
  // would keep the line, and the next boot could not have it.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  let unexpected: ((why: string) => void) | null = null;
  void exit.then((why) => {
    process.off('exit', orphanGuard);
    if (!stopping) unexpected?.(why);
  });
  return {
    child,
    exit,
    onUnexpectedExit(handler) {
      unexpected = handler;
    },
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return void (await exit);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exit;
      clearTimeout(timer);
    },
  };
}

interface ToolResult {
  missing: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

function runTool(tool: string, args: string[], env: NodeJS.ProcessEnv): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(tool, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ missing: err.code === 'ENOENT', code: null, stdout, stderr: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ missing: false, code, stdout, stderr });
    });
  });
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? '';
}

/** What /dev shows, for the "no chip" message. */
function devNodes(): string {
  let nodes: string[] = [];
  try {
    nodes = readdirSync('/dev').filter((n) => n.startsWith('gpiochip'));
  } catch {
    // no /dev at all (not Linux)
  }
  return nodes.length === 0
    ? 'no /dev/gpiochip* device: is this a Raspberry Pi?'
    : `/dev has ${nodes.join(', ')} but none could be listed`;
}
