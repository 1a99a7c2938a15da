/**
 * The systemd unit an image carries as payspeaker.service. Placeholders, filled in by whoever
 * installs it (`payspeaker flash`): @ROOT@ the install folder (/opt/payspeaker), @USER@ the
 * account it runs as (in the audio and gpio groups), @NODE@ the Node binary (/usr/bin/node).
 *
 * KillMode=mixed: systemd's SIGTERM goes to the loader only, which passes it on to the firmware
 * and waits for it (a payment being announced finishes); SIGKILL for stragglers comes last.
 */
export const SERVICE_UNIT_FILE = 'payspeaker.service';

export const SERVICE_UNIT_TEMPLATE = `[Unit]
Description=payspeaker: payment speaker firmware (A/B loader)
Documentation=https://github.com/payspeaker/payspeaker/blob/main/docs/FIRMWARE.md
After=network-online.target sound.target
Wants=network-online.target

[Service]
Type=simple
User=@USER@
WorkingDirectory=@ROOT@
ExecStart=@NODE@ @ROOT@/boot.cjs
Restart=always
RestartSec=2
KillMode=mixed
TimeoutStopSec=30
Environment=NODE_ENV=production

[Install]
WantedBy=multi-user.target
`;

export interface ServiceUnitValues {
  /** Absolute install folder, e.g. /opt/payspeaker. */
  root: string;
  /** The account the firmware runs as, e.g. pi. */
  user: string;
  /** Absolute path of Node 18+. Default /usr/bin/node (Debian's nodejs package). */
  node?: string;
}

/** The unit with its placeholders filled; refuses values that would break the unit file. */
export function fillServiceUnit(template: string, v: ServiceUnitValues): string {
  const node = v.node ?? '/usr/bin/node';
  for (const [name, value] of [
    ['root', v.root],
    ['node', node],
  ] as const) {
    if (!value.startsWith('/') || /[\s"'\\%$]/.test(value))
      throw new Error(
        `service unit ${name} ${JSON.stringify(value)} must be an absolute path without spaces, quotes, % or $`,
      );
  }
  if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(v.user))
    throw new Error(`service unit user ${JSON.stringify(v.user)} is not a user name`);
  const root = v.root.replace(/\/+$/, '') || '/';
  return template.replaceAll('@ROOT@', root).replaceAll('@USER@', v.user).replaceAll('@NODE@', node);
}
