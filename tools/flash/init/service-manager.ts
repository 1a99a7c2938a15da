/**
 * What starts the loader on the device and restarts it after a flash. One file per kind, like
 * boards and sinks: systemd on a Pi; a plain command where there is none (the tests' supervisor,
 * a container, runit…).
 */
import type { SshSession } from '../ssh.ts';

export interface ServiceManager {
  /** "systemd" or "command". */
  readonly kind: string;
  /** What install and restart will do, for --dry-run. */
  plan(): { install: string; restart: string };
  /** Installs or refreshes the service from the image's unit text (root already filled in). */
  install(ssh: SshSession, unit: string): Promise<string>;
  restart(ssh: SshSession): Promise<void>;
  /** The last lines the loader logged, where they can be read; [] if not. */
  recentLog(ssh: SshSession, lines: number): Promise<string[]>;
}

export const SERVICE_NAME = 'payspeaker.service';
