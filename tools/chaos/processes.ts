/**
 * payspeaker commands as child processes (broker, device), for the chaos run: start one, wait
 * for a JSON event on its stdout, kill it with a signal. Only processes started here are
 * ever signalled, by their PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export const PAYSPEAKER_BIN = path.resolve(import.meta.dirname, '../../bin/payspeaker.js');

export class PayspeakerProcess {
  readonly child: ChildProcess;
  readonly events: Record<string, unknown>[] = [];
  stderr = '';
  private killRequested = false;
  private readonly waiters: {
    match: (e: Record<string, unknown>) => boolean;
    resolve: (e: Record<string, unknown>) => void;
  }[] = [];

  /** `logFile`, if given, receives the whole stderr (appended: a restarted process continues it). */
  constructor(
    readonly args: string[],
    env: NodeJS.ProcessEnv = process.env,
    logFile?: string,
  ) {
    this.child = spawn(process.execPath, [PAYSPEAKER_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (logFile) {
      fs.mkdirSync(path.dirname(logFile), { recursive: true });
      this.child.stderr!.pipe(fs.createWriteStream(logFile, { flags: 'a' }));
    }
    this.child.stderr!.on('data', (d: Buffer) => {
      // Keep the tail only: a long run logs a lot, and only the last lines explain a failure.
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line));
  }

  /** Resolves with the first JSON event (seen or future) that matches. */
  waitForEvent(match: (e: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `payspeaker ${this.args[0]}: no matching event within ${timeoutMs} ms; stderr ends:\n${this.stderr.slice(-2000)}`,
            ),
          ),
        timeoutMs,
      );
      const onExit = () =>
        reject(
          new Error(
            `payspeaker ${this.args[0]} exited (${this.child.exitCode ?? this.child.signalCode}) before the expected event; stderr ends:\n${this.stderr.slice(-2000)}`,
          ),
        );
      this.child.once('exit', onExit);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          this.child.off('exit', onExit);
          resolve(e);
        },
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  exited(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  /** Why the process ended when nobody asked it to (a crash), with the end of its stderr; else null. */
  get crashed(): string | null {
    if (this.running || this.killRequested) return null;
    return `payspeaker ${this.args[0]} (pid ${this.child.pid}) exited on its own (${this.child.exitCode ?? this.child.signalCode}); stderr ends:\n${this.stderr.slice(-4000)}`;
  }

  /** Sends `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.killRequested = true;
    if (this.running) this.child.kill(signal);
    await this.exited();
  }

  private onLine(line: string): void {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    // Announcements are counted from the WAV files, not kept here: a long run has many.
    if (event.event !== 'announced') this.events.push(event);
    for (const w of [...this.waiters]) {
      if (w.match(event)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(event);
      }
    }
  }
}
