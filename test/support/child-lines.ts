/** A child process whose stdout lines can be awaited: the base of CliProcess and the firmware tests' LineProcess. */
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export class ChildLines {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  private readonly waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d));
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const w of [...this.waiters]) {
        if (w.match(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
  }

  /** Resolves with the first stdout line (seen or future) that matches. */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs = 20_000): Promise<string> {
    const test = typeof match === 'function' ? match : (l: string) => match.test(l);
    const seen = this.lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no line matching ${String(match)} within ${timeoutMs} ms; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({ match: test, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  }
}
