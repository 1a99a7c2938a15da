/**
 * Promise wrappers over ssh2's SFTP for what flash needs: read a small file, write one
 * atomically (temp, fsync, posix-rename, as slots.ts's writeState does locally), put a file.
 */
import type { SFTPWrapper } from 'ssh2';

/** SFTP status 2: SSH_FX_NO_SUCH_FILE. */
const NO_SUCH_FILE = 2;

export function isNoSuchFile(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === NO_SUCH_FILE;
}

/** The file's bytes, or null if it does not exist. */
export function readRemoteFile(sftp: SFTPWrapper, file: string): Promise<Buffer | null> {
  return new Promise((resolve, reject) =>
    sftp.readFile(file, (err, data) => {
      if (err)
        return isNoSuchFile(err)
          ? resolve(null)
          : reject(new Error(`cannot read ${file} on the device: ${err.message}`));
      resolve(data);
    }),
  );
}

const call = <T>(what: string, fn: (cb: (err: Error | undefined | null, v: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(new Error(`${what}: ${err.message}`)) : resolve(v))));

/**
 * Replaces `file` with `data`: a temp file beside it (mode `mode`), fsync'd where the server
 * offers fsync@openssh.com, then renamed over the old one with posix-rename@openssh.com (plain
 * SFTP rename refuses to replace a file). A power cut leaves the old file or the new one.
 */
export async function writeRemoteFileAtomic(
  sftp: SFTPWrapper,
  file: string,
  data: Buffer | string,
  mode: number,
): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = `${file}.flash-${process.pid}.tmp`;
  const handle = await call<Buffer>(`cannot create ${tmp} on the device`, (cb) => sftp.open(tmp, 'w', { mode }, cb));
  try {
    if (bytes.length > 0)
      await call(`cannot write ${tmp} on the device`, (cb) =>
        sftp.write(handle, bytes, 0, bytes.length, 0, cb as never),
      );
    // Explicit: an existing temp file keeps its old mode through open(…, {mode}).
    await call(`cannot chmod ${tmp} on the device`, (cb) => sftp.fchmod(handle, mode, cb as never));
    await call<unknown>('fsync', (cb) => sftp.ext_openssh_fsync(handle, cb as never)).catch(() => undefined); // not every server has it
  } finally {
    await call('close', (cb) => sftp.close(handle, cb as never)).catch(() => undefined);
  }
  await call(`cannot rename ${tmp} to ${file} on the device`, (cb) => sftp.ext_openssh_rename(tmp, file, cb as never));
}

export function putFile(sftp: SFTPWrapper, local: string, remote: string, mode: number): Promise<void> {
  return call(`cannot upload ${local} to ${remote}`, (cb) =>
    sftp.fastPut(local, remote, { mode, concurrency: 8 }, cb as never),
  );
}
