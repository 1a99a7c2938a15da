/** A/B install folders and a running loader (boot.cjs), for the firmware tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChildLines } from '../support/child-lines.ts';
import { bundle, LOADER_SOURCE } from '../../tools/image/bundle.ts';
import { rootPaths, writeState, type BootState, type Slot } from '../../device/boot/slots.ts';

export function tempRoot(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `payspeaker-${prefix}-`));
}

/** ROOT/boot.cjs from the loader's source (esbuild, as `image build` makes it). */
export async function installLoader(root: string): Promise<void> {
  fs.mkdirSync(root, { recursive: true });
  await bundle(LOADER_SOURCE, rootPaths(root).loader);
}

/** A slot holding just a firmware.cjs (no manifest): enough for the loader, which runs what the state says. */
export function writeFakeSlot(root: string, slot: Slot, firmware: string): void {
  const dir = rootPaths(root).slot(slot);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'firmware.cjs'), firmware);
}

export function setState(root: string, state: BootState): void {
  writeState(root, state);
}

/** A process whose stdout lines can be awaited (the loader prints one line per decision). */
export class LineProcess extends ChildLines {
  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    super(command, args, env);
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
    return new Promise((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** SIGTERM, and SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const r = await this.exited();
    clearTimeout(timer);
    return r;
  }
}

/** `node ROOT/boot.cjs`, as systemd runs it. */
export function startLoader(root: string, node = process.execPath, env: NodeJS.ProcessEnv = process.env): LineProcess {
  return new LineProcess(node, [rootPaths(root).loader], env);
}

/** True while `pid` exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
