/**
 * No service manager flash knows (`--init none`): the loader is kept running by something else
 * (a supervisor, a container, runit), and `--restart-command` is the shell command, run on the
 * device, that restarts it. Its log is read from ROOT/run/*.log, where such a supervisor
 * should write what the loader prints.
 */
import path from 'node:path';
import { shellQuote } from '../remote-root.ts';
import { SERVICE_NAME, type ServiceManager } from './service-manager.ts';
import { writeRemoteFileAtomic } from '../sftp.ts';

export function commandManager(opts: { root: string; restartCommand: string }): ServiceManager {
  const unitCopy = path.posix.join(opts.root, 'run', SERVICE_NAME);
  return {
    kind: 'command',
    plan: () => ({
      install: `no service manager: the unit is only copied to ${unitCopy} for reference`,
      restart: opts.restartCommand,
    }),
    async install(ssh, unit) {
      await writeRemoteFileAtomic(await ssh.sftp(), unitCopy, unit, 0o644);
      return `no service manager (--init none): unit copied to ${unitCopy}`;
    },
    async restart(ssh) {
      await ssh.run(opts.restartCommand, `the restart command (${opts.restartCommand})`, { timeoutMs: 60_000 });
    },
    async recentLog(ssh, lines) {
      const r = await ssh.exec(`tail -q -n ${lines} ${shellQuote(path.posix.join(opts.root, 'run'))}/*.log`, {
        timeoutMs: 20_000,
      });
      return r.stdout.trimEnd().split('\n').filter(Boolean).slice(-lines);
    },
  };
}
