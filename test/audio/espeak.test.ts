import { describe, expect, it } from 'vitest';
import { durationMs, nonSilentMs } from '../../src/audio/pcm.ts';
import { createEspeakEngine, ESPEAK_PACKAGE, espeakInstalled, importEspeak } from '../../src/audio/tts/espeak.ts';

const MISSING = `optional package ${ESPEAK_PACKAGE} is not installed (npm install ${ESPEAK_PACKAGE})`;

describe('espeak-ng engine', () => {
  // First use loads 24 MB of voice data and warms each voice: give it room on a slow CI box.
  it('speaks Mandarin, English and Hindi as real audio', { timeout: 30_000 }, async ({ skip }) => {
    skip(!espeakInstalled(), MISSING);
    const engine = createEspeakEngine();
    expect(engine.name).toBe('espeak-ng');
    for (const [lang, text] of [
      ['zh-CN', '微信收款一百二十三点四五元'],
      ['en-US', 'Payment received, one hundred twenty three dollars and forty five cents'],
      ['hi-IN', 'Paytm पर एक सौ तेईस रुपये प्राप्त हुए'],
    ] as const) {
      const pcm = await engine.synthesize(text, lang);
      expect(pcm.sampleRate).toBe(22_050);
      expect(durationMs(pcm)).toBeGreaterThan(500);
      expect(nonSilentMs(pcm), `${lang} speech above the noise floor`).toBeGreaterThanOrEqual(500);
    }
  });

  it('handles concurrent calls in both languages', { timeout: 30_000 }, async ({ skip }) => {
    skip(!espeakInstalled(), MISSING);
    const engine = createEspeakEngine();
    const texts = ['支付宝到账五元', 'Received five dollars', '微信收款十元'];
    const langs = ['zh-CN', 'en-US', 'zh-CN'] as const;
    const together = await Promise.all(texts.map((t, i) => engine.synthesize(t, langs[i]!)));
    for (let i = 0; i < texts.length; i++) {
      // eSpeak adds slight random variation per call, so compare lengths, not samples: a call that
      // ran with another call's voice would differ far more than a few percent.
      const alone = await engine.synthesize(texts[i]!, langs[i]!);
      expect(together[i]!.samples.length / alone.samples.length).toBeCloseTo(1, 1);
      expect(nonSilentMs(together[i]!)).toBeGreaterThan(300);
    }
  });

  it('names its release and settings, so voice packs recorded with others are rebuilt', ({ skip }) => {
    skip(!espeakInstalled(), MISSING);
    expect(createEspeakEngine().version).toMatch(/^\d+\.\d+\.\d+ rate=175 pitch=50$/);
    expect(createEspeakEngine({ rate: 150 }).version).toMatch(/ rate=150 pitch=50$/);
  });

  it('rejects a language it has no voice for', async () => {
    // @ts-expect-error deliberately outside TtsLang
    await expect(createEspeakEngine().synthesize('x', 'xx-XX')).rejects.toThrow(
      'espeak-ng: no voice for language "xx-XX"',
    );
  });

  it('names the package to install when it is missing', async () => {
    // The real loader, pointed at a package that is certainly absent.
    await expect(importEspeak('@payspeaker/no-such-tts')).rejects.toThrow(
      'eSpeak TTS needs the optional package @payspeaker/no-such-tts (GPL-3.0), which is not installed: run `npm install @payspeaker/no-such-tts`',
    );
  });
});
