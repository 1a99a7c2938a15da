/**
 * A real redis-server for a test: a free 127.0.0.1 port, no snapshots, no append-only file, a
 * temp folder; stopped by its PID. Tests that need it skip with `needs('redis-server')`
 * (./prerequisites.ts), named in the run's summary and failing the run in CI: never silently.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../tools/chaos/ports.ts';
import { installCommand, which } from './prerequisites.ts';

export interface TestRedis {
  readonly port: number;
  readonly pid: number;
  /** redis://127.0.0.1:PORT (with the password when started with one). */
  readonly url: string;
  /** Sends one command and returns the reply (string, number, null or an array of them). */
  command(...args: (string | number)[]): Promise<RedisReply>;
  /** SIGTERM, then SIGKILL after 3 s; removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

export type RedisReply = string | number | null | RedisReply[];

export interface RedisStartOptions {
  /** Reuse a port (to bring "the same" Redis back after stop()); default a free one. */
  port?: number;
  password?: string;
}

export function redisServerPath(): string {
  const bin = which('redis-server', true);
  if (bin) return bin;
  throw new Error(
    `redis-server is not installed, and the Redis persistence and cluster tests need a real one: ${installCommand(['redis-server'])}`,
  );
}

export async function startRedis(opts: RedisStartOptions = {}): Promise<TestRedis> {
  const bin = redisServerPath();
  let lastError: Error | undefined;
  // A free port can be taken between our probe and redis-server's bind: try a few.
  for (let attempt = 0; attempt < (opts.port ? 1 : 3); attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await launch(bin, port, opts.password);
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError!;
}

async function launch(bin: string, port: number, password?: string): Promise<TestRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
  ];
  if (password) args.push('--requirepass', password);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d));
  child.stderr!.on('data', (d: Buffer) => (output += d));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit); // never leave a redis-server behind a crashed test run
  const stop = once(async () => {
    await stopChild(child);
    process.off('exit', killOnExit);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const auth = password ? [['AUTH', password]] : [];
  try {
    await waitForPong(child, port, auth, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    pid: child.pid!,
    url: `redis://${password ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${port}`,
    command: (...cmd) => send(port, [...auth, cmd.map(String)]),
    stop,
  };
}

async function waitForPong(child: ChildProcess, port: number, auth: string[][], output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`redis-server on port ${port} exited at start:\n${output()}`);
    try {
      if ((await send(port, [...auth, ['PING']])) === 'PONG') return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${output()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => (clearTimeout(timer), resolve()));
    child.kill('SIGTERM');
  });
}

/** Sends commands over one short connection (RESP) and resolves with the last reply; an error reply rejects. */
function send(port: number, commands: string[][]): Promise<RedisReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    const replies: RedisReply[] = [];
    socket.setTimeout(3000, () => socket.destroy(new Error(`redis on port ${port}: no reply within 3 s`)));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        for (let parsed = parseReply(buffer, 0); parsed; parsed = parseReply(buffer, 0)) {
          buffer = buffer.subarray(parsed.end);
          replies.push(parsed.value);
        }
      } catch (err) {
        socket.destroy();
        return reject(err);
      }
      if (replies.length === commands.length) {
        socket.end();
        resolve(replies.at(-1)!);
      }
    });
    socket.write(
      commands.map((c) => `*${c.length}\r\n${c.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`).join(''),
    );
  });
}

function parseReply(buf: Buffer, at: number): { value: RedisReply; end: number } | null {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[at]!);
  const line = buf.toString('utf8', at + 1, eol);
  if (type === '+') return { value: line, end: eol + 2 };
  if (type === '-') throw new Error(`redis replied ${line}`);
  if (type === ':') return { value: Number(line), end: eol + 2 };
  if (type === '$') {
    const length = Number(line);
    if (length < 0) return { value: null, end: eol + 2 };
    if (buf.length < eol + 2 + length + 2) return null;
    return { value: buf.toString('utf8', eol + 2, eol + 2 + length), end: eol + 2 + length + 2 };
  }
  if (type === '*') {
    const count = Number(line);
    const items: RedisReply[] = [];
    let end = eol + 2;
    for (let i = 0; i < count; i++) {
      const item = parseReply(buf, end);
      if (!item) return null;
      items.push(item.value);
      end = item.end;
    }
    return { value: count < 0 ? null : items, end };
  }
  throw new Error(`unexpected redis reply ${JSON.stringify(buf.toString('utf8', at, eol))}`);
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => (running ??= fn());
}
