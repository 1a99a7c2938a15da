/**
 * systemd: the image's payspeaker.service goes to /etc/systemd/system, then daemon-reload and
 * enable, so the speaker starts at boot; restart is `systemctl restart`. Through `sudo -n` when
 * the SSH user is not root (a Pi's default user may sudo without a password).
 */
import path from 'node:path';
import { FlashError } from '../errors.ts';
import { shellQuote } from '../remote-root.ts';
import { writeRemoteFileAtomic } from '../sftp.ts';
import type { SshSession } from '../ssh.ts';
import { SERVICE_NAME, type ServiceManager } from './service-manager.ts';

export const UNIT_DIR = '/etc/systemd/system';

/** `unitDir`: where units go (tests point it at a temp folder, with a fake systemctl). */
export function systemdManager(opts: { root: string; uid: number; unitDir?: string }): ServiceManager {
  const sudo = opts.uid === 0 ? '' : 'sudo -n ';
  const unitFile = path.posix.join(opts.unitDir ?? UNIT_DIR, SERVICE_NAME);
  const run = async (ssh: SshSession, command: string, what: string): Promise<string> => {
    const r = await ssh.exec(command, { timeoutMs: 60_000 });
    if (r.code === 0) return r.stdout;
    const out = (r.stderr || r.stdout).trim();
    const hint = /password is required|a terminal is required/.test(out)
      ? `: let ${ssh.target.user} run systemctl without a password (sudoers NOPASSWD), or flash as root`
      : '';
    throw new FlashError(
      'remote',
      `${what} failed on ${ssh.target.host} (exit ${r.code}): ${out.split('\n').slice(-3).join(' | ')}${hint}`,
    );
  };
  return {
    kind: 'systemd',
    plan: () => ({
      install: `write ${unitFile}, ${sudo}systemctl daemon-reload, ${sudo}systemctl enable ${SERVICE_NAME}`,
      restart: `${sudo}systemctl restart ${SERVICE_NAME}`,
    }),
    async install(ssh, unit) {
      const staged = path.posix.join(opts.root, 'run', SERVICE_NAME);
      await writeRemoteFileAtomic(await ssh.sftp(), staged, unit, 0o644);
      await run(
        ssh,
        `${sudo}install -m 0644 ${shellQuote(staged)} ${shellQuote(unitFile)} && ${sudo}systemctl daemon-reload && ${sudo}systemctl enable ${SERVICE_NAME}`,
        `installing ${unitFile}`,
      );
      return `${unitFile} installed and enabled`;
    },
    async restart(ssh) {
      await run(ssh, `${sudo}systemctl restart ${SERVICE_NAME}`, `systemctl restart ${SERVICE_NAME}`);
    },
    async recentLog(ssh, lines) {
      const r = await ssh.exec(`${sudo}journalctl -u ${SERVICE_NAME} -n ${lines} --no-pager -o cat`, {
        timeoutMs: 20_000,
      });
      return r.code === 0 ? r.stdout.trimEnd().split('\n').filter(Boolean) : [];
    },
  };
}
