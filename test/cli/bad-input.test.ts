/**
 * Bad input, per command: the real binary as a child process, and for every row the exit code
 * the README's table documents, one or two plain lines on stderr, and never a stack frame or an
 * "unexpected error". A command added to `payspeaker --help` without a row here fails the
 * coverage test at the end, so the table keeps up with the CLI.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, CliProcess, cleanEnv, runCli } from '../support/cli.ts';
import { failureFor } from '../../tools/cli/known-errors.ts';
import { EXIT } from '../../tools/cli/exit-codes.ts';
import { BrokerRefusedError } from '../../src/mqtt/connect.ts';

/** What a row may refer to: a running secure broker and its ports, an empty data dir, a port in use. */
interface Env {
  /** The secure broker's MQTT URL and HTTP API URL. */
  mqtt: string;
  http: string;
  /** Its MQTT port: taken, for the rows that need a port in use. */
  busyPort: string;
  /** A data directory with no broker in it: no backend credentials, no signing key. */
  empty: string;
  /** A plain file, where a directory is expected. */
  file: string;
}

interface Row {
  command: string;
  what: string;
  args: (e: Env) => string[];
  code: number;
  stderr?: RegExp;
}

/** Nothing listens there (and fetch refuses it outright), so "unreachable" comes at once. */
const CLOSED_MQTT = 'mqtt://127.0.0.1:1';
const CLOSED_HTTP = 'http://127.0.0.1:1';
const USAGE = 2;
const UNREACHABLE = 5;
const REFUSED = 6;
const NOT_STARTED = 7;

const rows: Row[] = [
  { command: '', what: 'unknown option', args: () => ['--bogus'], code: USAGE, stderr: /unknown option '--bogus'/ },
  {
    command: '',
    what: 'missing settings file',
    args: () => ['--settings', '/nonexistent/settings.json', 'devices'],
    code: USAGE,
    stderr: /settings\.json does not exist/,
  },
  {
    command: 'broker',
    what: 'bad port',
    args: () => ['broker', '--port', 'abc'],
    code: USAGE,
    stderr: /--port must be a port number/,
  },
  {
    command: 'broker',
    what: 'port in use',
    args: (e) => [
      'broker',
      '--port',
      e.busyPort,
      '--no-ws-port',
      '--http-port',
      '0',
      '--data',
      e.empty,
      '--log-level',
      'error',
    ],
    code: NOT_STARTED,
    stderr: /port \d+ on 127\.0\.0\.1 is already in use.*--port/,
  },
  {
    command: 'device',
    what: 'missing config file',
    args: () => ['device', '--config', '/nonexistent/SPK-0001.json'],
    code: USAGE,
    stderr: /no such file/,
  },
  {
    command: 'device',
    what: 'keep-alive beyond what MQTT can carry',
    args: () => ['device', '--insecure', '--id', 'SPK-0001', '--audio', 'none', '--keepalive', '70000s'],
    code: USAGE,
    stderr: /--keepalive 70000s is out of range: MQTT keeps alive from 1s to 65535s/,
  },
  {
    command: 'ota',
    what: 'download URL that is not a URL',
    args: () => ['ota', 'SPK-0001', '--release', 'x.json', '--download-url', 'notaurl'],
    code: USAGE,
    stderr: /--download-url must be a URL like http:\/\/127\.0\.0\.1:8081, got "notaurl"/,
  },
  {
    command: 'fleet',
    what: 'broker that is not a URL',
    args: () => ['fleet', '--broker', 'notaurl'],
    code: USAGE,
    stderr: /--broker must be a URL like mqtt:\/\/127\.0\.0\.1:1883, got "notaurl"/,
  },
  {
    command: 'flash',
    what: 'an HTTP URL as the broker',
    args: () => ['flash', 'pi@example.invalid', '--config', 'c.json', '--broker', 'http://x'],
    code: USAGE,
    stderr: /http:\/\/ is not one of mqtt:\/\//,
  },
  {
    command: 'provision',
    what: 'config file in a folder that does not exist',
    args: () => ['provision', 'SPK-OUT-1', '--out', '/nonexistent/dir/SPK-OUT-1.json'],
    code: USAGE,
    stderr: /the folder \/nonexistent\/dir does not exist/,
  },
  {
    command: 'demo',
    what: 'bad language',
    args: () => ['demo', '--lang', 'xx'],
    code: USAGE,
    stderr: /'xx' is invalid/,
  },
  {
    command: 'pay',
    what: 'negative amount',
    args: () => ['pay', '-5', '--device', 'SPK-0001'],
    code: USAGE,
    stderr: /--refund/,
  },
  {
    command: 'pay',
    what: '--api not a URL',
    args: () => ['pay', '5', '--device', 'SPK-0001', '--api', 'notaurl'],
    code: USAGE,
    stderr: /--api must be a URL like http:\/\/127\.0\.0\.1:8081, got "notaurl"/,
  },
  {
    command: 'pay',
    what: 'API unreachable',
    args: () => ['pay', '5', '--device', 'SPK-0001', '--api', CLOSED_HTTP, '--insecure'],
    code: UNREACHABLE,
  },
  {
    command: 'pay',
    what: 'broker unreachable (--direct)',
    args: () => ['pay', '5', '--device', 'SPK-0001', '--direct', '--insecure', '--broker', CLOSED_MQTT],
    code: UNREACHABLE,
    stderr: /cannot connect to the broker/,
  },
  {
    command: 'pay',
    what: 'no credentials for a secure API',
    args: (e) => ['pay', '5', '--device', 'SPK-0001', '--api', e.http, '--data', e.empty],
    code: REFUSED,
  },
  {
    command: 'payments',
    what: 'bad duration',
    args: () => ['payments', '--since', 'soon'],
    code: USAGE,
    stderr: /--since "soon" is not a duration/,
  },
  {
    command: 'payments',
    what: 'API unreachable',
    args: () => ['payments', '--api', CLOSED_HTTP, '--insecure'],
    code: UNREACHABLE,
  },
  {
    command: 'payments',
    what: 'no credentials for a secure API',
    args: (e) => ['payments', '--api', e.http, '--data', e.empty],
    code: REFUSED,
  },
  {
    command: 'watch',
    what: 'broker unreachable',
    args: () => ['watch', '--broker', CLOSED_MQTT, '--insecure', '--no-events'],
    code: UNREACHABLE,
  },
  {
    command: 'watch',
    what: 'anonymous on a secure broker',
    args: (e) => ['watch', '--broker', e.mqtt, '--api', e.http, '--insecure', '--data', e.empty],
    code: REFUSED,
    stderr: /refused the connection/,
  },
  {
    command: 'command',
    what: 'unknown button',
    args: () => ['command', 'bogus', '--device', 'SPK-0001'],
    code: USAGE,
    stderr: /must be one of/,
  },
  {
    command: 'command',
    what: 'broker unreachable',
    args: () => ['command', 'replay', '--device', 'SPK-0001', '--insecure', '--broker', CLOSED_MQTT],
    code: UNREACHABLE,
  },
  {
    command: 'ota',
    what: 'missing release file',
    args: (e) => ['ota', 'SPK-0001', '--release', '/nonexistent/release.json', '--insecure', '--data', e.empty],
    code: USAGE,
    stderr: /no such file/,
  },
  {
    command: 'ota',
    what: '--api not a URL',
    args: () => ['ota', 'SPK-0001', '--release', 'x.json', '--api', 'notaurl'],
    code: USAGE,
    stderr: /--api must be a URL/,
  },
  {
    command: 'provision',
    what: 'missing device id',
    args: () => ['provision'],
    code: USAGE,
    stderr: /missing required argument/,
  },
  {
    command: 'provision',
    what: '--broker not a URL',
    args: (e) => ['provision', 'SPK-0001', '--broker', '127.0.0.1:1883', '--data', e.empty],
    code: USAGE,
    stderr: /--broker must be a URL like mqtt:\/\/127\.0\.0\.1:1883/,
  },
  {
    command: 'revoke',
    what: 'unknown device',
    args: (e) => ['revoke', 'SPK-9999', '--data', e.empty],
    code: USAGE,
    stderr: /not provisioned/,
  },
  {
    command: 'devices',
    what: 'a file as the data directory',
    args: (e) => ['devices', '--data', e.file],
    code: USAGE,
    stderr: /cannot read .*registry\.sqlite: a part of its path is not a directory/,
  },
  {
    command: 'devices',
    what: 'a negative number',
    args: () => ['devices', '-5'],
    code: USAGE,
    stderr: /unknown option '-5'.*after "--"/,
  },
  { command: 'certs', what: 'bad days', args: () => ['certs', '--days', 'x'], code: USAGE },
  {
    command: 'voicepack',
    what: 'bad language',
    args: () => ['voicepack', 'build', '--lang', 'xx'],
    code: USAGE,
  },
  { command: 'fleet', what: 'bad count', args: () => ['fleet', '--devices', '0'], code: USAGE },
  {
    command: 'fleet',
    what: 'source address that is not an IP address',
    args: () => ['fleet', '--source-addresses', 'nonsense'],
    code: USAGE,
    stderr: /--source-addresses: "nonsense" is not an IP address/,
  },
  {
    command: 'fleet',
    what: 'reconnect storm that is not a duration',
    args: () => ['fleet', '--reconnect-storm', 'abc'],
    code: USAGE,
    stderr: /--reconnect-storm "abc" is not a duration/,
  },
  {
    command: 'fleet',
    what: 'reconnect storm after the load',
    args: () => ['fleet', '--reconnect-storm', '20s', '--duration', '10s'],
    code: USAGE,
    stderr: /--reconnect-storm 20s is not within the load/,
  },
  {
    command: 'fleet',
    what: 'broker unreachable',
    args: () => ['fleet', '--devices', '2', '--duration', '1s', '--broker', CLOSED_MQTT],
    code: UNREACHABLE,
  },
  {
    command: 'fleet',
    what: 'anonymous on a secure broker',
    args: (e) => ['fleet', '--devices', '2', '--duration', '1s', '--broker', e.mqtt],
    code: REFUSED,
  },
  { command: 'chaos', what: 'missing --target', args: () => ['chaos'], code: USAGE, stderr: /--target/ },
  {
    command: 'chaos',
    what: 'port in use',
    args: (e) => ['chaos', '--target', '127.0.0.1:1', '--listen', `127.0.0.1:${e.busyPort}`, '--log-level', 'error'],
    code: NOT_STARTED,
    stderr: /cannot listen/,
  },
  {
    command: 'flash',
    what: 'missing config file',
    args: () => ['flash', 'pi@raspberrypi.local', '--config', '/nonexistent/SPK-0001.json'],
    code: USAGE,
  },
  { command: 'image', what: 'unknown subcommand', args: () => ['image', 'bogus'], code: USAGE },
];

/** The commands this build has, from its own --help (a row for a command not built yet is skipped). */
function listedCommands(): Set<string> {
  const help = spawnSync(process.execPath, [BIN, '--help'], { env: cleanEnv(), encoding: 'utf8' }).stdout;
  const start = help.indexOf('Commands:');
  const section = help.slice(start, help.indexOf('\n\n', start));
  return new Set([...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help'));
}
const commands = listedCommands();

describe('bad input, per command', () => {
  let broker: CliProcess;
  let dir: string;
  const env = {} as Env;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-bad-input-'));
    const data = path.join(dir, 'broker-data');
    broker = new CliProcess(['broker', '--port', '0', '--no-ws-port', '--http-port', '0', '--json', '--data', data]);
    const listening = await broker.waitForEvent<{ mqtt: string; http: string }>((e) => e.event === 'listening');
    Object.assign(env, {
      mqtt: listening.mqtt,
      http: listening.http,
      busyPort: new URL(listening.mqtt).port,
      empty: path.join(dir, 'empty'),
      file: path.join(dir, 'a-file'),
    } satisfies Env);
    fs.mkdirSync(env.empty);
    fs.writeFileSync(env.file, '');
  });

  afterAll(async () => {
    await broker?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe.concurrent('rows', () => {
    for (const row of rows) {
      const name = `${row.command || '(top level)'}: ${row.what} → exit ${row.code}`;
      it.skipIf(row.command !== '' && !commands.has(row.command))(name, async () => {
        const args = row.args(env);
        const result = await runCli(args, { cwd: dir, timeoutMs: 20_000 });
        const context = `payspeaker ${args.join(' ')}\n${result.stderr}`;
        const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
        expect(result.stderr, context).not.toMatch(/^\s+at /m);
        expect(result.stderr, context).not.toMatch(/unexpected error/);
        expect(lines.length, context).toBeGreaterThanOrEqual(1);
        expect(lines.length, context).toBeLessThanOrEqual(2);
        for (const line of lines) expect(line, context).not.toMatch(/^\{/); // a person's line, not a log record
        if (row.stderr) expect(result.stderr, context).toMatch(row.stderr);
        expect(result.code, context).toBe(row.code);
      });
    }
  });

  it('has a row for every command the CLI lists', () => {
    const covered = new Set(rows.map((r) => r.command));
    expect([...commands].filter((c) => !covered.has(c))).toEqual([]);
  });
});

/** The same mapping in-process, for failures no cheap command line provokes. */
describe('the last line of defence', () => {
  const errno = (code: string, extra: Record<string, unknown>) => Object.assign(new Error(code), { code, ...extra });

  it('names a path that cannot be used, and the port in use', () => {
    expect(failureFor(errno('ENOENT', { syscall: 'open', path: '/nope/r.html' }), false)).toEqual({
      message: 'cannot open /nope/r.html: no such file or directory',
      exitCode: USAGE,
    });
    expect(failureFor(errno('EACCES', { syscall: 'scandir', path: '/data' }), false).message).toBe(
      'cannot read /data: permission denied',
    );
    expect(failureFor(errno('EISDIR', { syscall: 'write', path: '/tmp' }), false).message).toBe(
      'cannot write /tmp: it is a directory',
    );
    const inUse = failureFor(errno('EADDRINUSE', { syscall: 'listen', port: 1883, address: '127.0.0.1' }), false);
    expect(inUse).toEqual({
      message:
        'port 1883 on 127.0.0.1 is already in use (another broker?): stop what uses it or choose another with --port',
      exitCode: NOT_STARTED,
    });
  });

  it('gives refused credentials the credentials exit code', () => {
    expect(failureFor(new BrokerRefusedError('mqtt://127.0.0.1:1883', 4), false).exitCode).toBe(REFUSED);
  });

  it('shows the stack of a truly unexpected error only with --debug', () => {
    const bug = new TypeError('x is not a function');
    const plain = failureFor(bug, false);
    expect(plain).toEqual({
      message: 'unexpected error: x is not a function (run again with --debug to see where)',
      exitCode: 1,
    });
    const debug = failureFor(bug, true).message;
    expect(debug).toMatch(/^unexpected error: TypeError: x is not a function\n\s+at /);
  });
});

describe("the README's exit-code table", () => {
  it('lists exactly the codes the CLI uses', () => {
    const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const start = readme.indexOf('Every command ends with one of these exit codes');
    expect(start).toBeGreaterThan(-1);
    const table = readme.slice(start, readme.indexOf('\n\n', readme.indexOf('| code |', start)));
    const documented = [...table.matchAll(/^\| `(\d+)` \|/gm)].map((m) => Number(m[1]));
    expect(documented).toEqual(Object.values(EXIT).sort((a, b) => a - b));
  });
});
