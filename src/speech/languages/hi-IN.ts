/** Hindi (work in progress). */
import type { SpeechLanguage } from '../types.ts';

export const hiIN: SpeechLanguage = {
  code: 'hi-IN',
  say(m) {
    throw new Error(`hi-IN ${m.type} not implemented yet`);
  },
  vocabulary() {
    return [];
  },
};
