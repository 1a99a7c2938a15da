/**
 * A voice pack's manifest: its shape, checked with zod. No platform imports: the broker serves
 * manifests over HTTP (GET /v1/voices/:lang) and a speaker in a browser tab checks them here too.
 */
import { z } from 'zod';
import { isLanguage, type Language } from '../../speech/index.ts';

export const MANIFEST_FILE = 'manifest.json';
export const PACK_FORMAT = 1;

const clipEntry = z.strictObject({
  file: z.string().regex(/^[a-z0-9]+\.wav$/, 'a short safe file name such as c001.wav'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  samples: z.number().int().min(0),
});

export const manifestSchema = z.strictObject({
  format: z.literal(PACK_FORMAT),
  language: z.string().refine(isLanguage, 'a supported language'),
  sampleRate: z.number().int().positive(),
  version: z.string().min(1),
  engine: z.string().min(1),
  builtAt: z.iso.datetime(),
  clips: z.record(z.string(), clipEntry),
});

export type ClipEntry = z.infer<typeof clipEntry>;
export type Manifest = Omit<z.infer<typeof manifestSchema>, 'language'> & { language: Language };
