/**
 * A real Mosquitto on a free loopback port, for interop tests and the bench: its own config
 * in a temp folder (anonymous, no persistence, Nagle off like our broker), stopped by PID.
 * Debian installs it in /usr/sbin, which is not on every user's PATH: found like the test set-up
 * finds it (./prerequisites.ts), so a test that did not skip finds it too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../tools/chaos/ports.ts';
import { installCommand, which } from './prerequisites.ts';

/** The mosquitto binary (PATH, then the sbin folders of Debian and Homebrew), or null if it is not installed. */
export function findMosquitto(): string | null {
  return which('mosquitto', true);
}

/** "mosquitto version 2.0.11", from the first line of its usage text. */
export function mosquittoVersion(bin: string): string {
  const out = spawnSync(bin, ['-h'], { encoding: 'utf8' }).stdout ?? '';
  return /mosquitto version \S+/.exec(out)?.[0] ?? 'mosquitto (version unknown)';
}

export interface RunningMosquitto {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** e.g. "mosquitto version 2.0.11". */
  readonly version: string;
  stop(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export async function startMosquitto(bin = findMosquitto()): Promise<RunningMosquitto> {
  if (!bin) throw new Error(`mosquitto is not installed: ${installCommand(['mosquitto'])}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-mosquitto-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      // Like payspeaker's own broker (broker/listeners.ts): no Nagle delay on small packets.
      'set_tcp_nodelay true',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`mosquitto did not start on 127.0.0.1:${port}: ${log.trim() || `exit code ${child.exitCode}`}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    version: mosquittoVersion(bin),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
