/** Where voice packs live by default, and what to tell a user who must rebuild one. */
import path from 'node:path';
import envPaths from 'env-paths';

/**
 * $PAYSPEAKER_VOICEPACK_DIR, else <user cache dir>/voicepacks (~/.cache/payspeaker/voicepacks on
 * Linux). Read here, not per command, so `voicepack build` fills the cache a speaker reads.
 * A cache: safe to delete, packs are re-recorded on next use.
 */
export function defaultVoicePackDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PAYSPEAKER_VOICEPACK_DIR || path.join(envPaths('payspeaker', { suffix: '' }).cache, 'voicepacks');
}

/** The command that rebuilds the pack in `dir` (with --out when it is not in the default cache). */
export function rebuildCommand(lang: string | undefined, dir: string): string {
  const base = `npx payspeaker voicepack build --lang ${lang ?? '<lang>'}`;
  const inCache = path.resolve(path.dirname(dir)) === path.resolve(defaultVoicePackDir());
  return inCache ? base : `${base} --out ${dir}`;
}
