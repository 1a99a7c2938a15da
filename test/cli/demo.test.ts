/** `npm start` runs `payspeaker demo`: the newcomer's first command must work and exit cleanly. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { decodeWav } from '../../src/audio/wav.ts';
import { nonSilentMs } from '../../src/audio/pcm.ts';

describe('payspeaker demo', () => {
  it('announces three sample payments through an embedded broker and exits 0', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-demo-'));
    const result = await runCli(['demo', '--audio', `file:${dir}`, '--json'], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e.event === 'announced').map((e) => e.text)).toEqual([
      '微信收款一百二十三点四五元',
      '支付宝到账一千零五元',
      '云闪付收款零点五元',
    ]);
    // Like a real box it also greets and reports the network.
    expect(events.filter((e) => e.event === 'spoke').map((e) => e.text)).toEqual(['欢迎使用', '网络已连接']);
    const wavs = fs.readdirSync(dir).filter((f) => f.includes('PAY-'));
    expect(wavs).toHaveLength(3);
    for (const wav of wavs) expect(nonSilentMs(decodeWav(fs.readFileSync(path.join(dir, wav))))).toBeGreaterThan(500);
    fs.rmSync(dir, { recursive: true });
  });

  it('falls back to WAV files in ./out with one warning when no sound device answers', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-demo-auto-'));
    // An ALSA config with no default device: aplay fails, so `auto` must fall back to files.
    const alsa = path.join(cwd, 'no-device.conf');
    fs.writeFileSync(alsa, 'pcm.!default { type hw; card 99 }\n');
    const result = await runCli(['demo'], { cwd, env: { ALSA_CONFIG_PATH: alsa }, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('微信收款一百二十三点四五元');
    expect(result.stdout).toMatch(/done: 3 payments announced/);
    // It ends by pointing at the web console.
    expect(result.stdout.trim().split('\n').at(-1)).toMatch(/^web console: "npx payspeaker demo --keep-open" /);
    expect(fs.readdirSync(path.join(cwd, 'out')).filter((f) => f.includes('PAY-') && f.endsWith('.wav'))).toHaveLength(
      3,
    );
    expect(result.stderr.match(/no sound device/gi) ?? []).toHaveLength(1);
    fs.rmSync(cwd, { recursive: true });
  });
});
