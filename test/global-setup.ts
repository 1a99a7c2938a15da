/**
 * One voice-pack cache for the whole test run, in a temp folder: device processes started by
 * tests record their packs there once, and the user's own cache is never touched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-test-voicepacks-'));
  process.env.PAYSPEAKER_VOICEPACK_DIR = dir;
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
