/**
 * Forks one of the fleet's TypeScript entry points (worker.ts, broker-host.ts) as a Node
 * process — compiled once by esbuild (compiled.ts says why), or with tsx — wherever the user
 * runs payspeaker from, and talks to it over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { compiledEntry } from './compiled.ts';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * `PAYSPEAKER_FLEET_PROFILE=DIR` has every forked process (workers, the embedded broker) write a
 * V8 CPU profile into DIR when it exits: how the figures in docs/BENCHMARKS.md were explained.
 * (Node refuses `--cpu-prof` in NODE_OPTIONS, so it cannot be passed from outside.)
 */
function profiling(): string[] {
  const dir = process.env.PAYSPEAKER_FLEET_PROFILE;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}

export function forkEntry(file: string, execArgv: string[] = [], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const source = new URL(file, import.meta.url).pathname;
  const compiled = compiledEntry(source);
  return fork(compiled ?? source, [], {
    env: { ...process.env, ...env },
    execArgv: [...(compiled ? ['--enable-source-maps'] : ['--import', tsx]), ...profiling(), ...execArgv],
    serialization: 'advanced', // typed arrays of heard payments pass without JSON
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Resolves with the first message that `pick` maps to a value; rejects if the child exits first. */
export function nextMessage<M, T>(child: ChildProcess, pick: (m: M) => T | undefined, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: M) => {
      const value = pick(m);
      if (value === undefined) return;
      cleanup();
      resolve(value);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`${what}: the process exited (${signal ?? `code ${code}`}) first`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Waits up to `graceMs` for the child to exit, then kills it. */
export async function reap(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
