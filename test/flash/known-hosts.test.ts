/**
 * known_hosts as OpenSSH reads it: plain and hashed names (hashed here by the real
 * `ssh-keygen -H`), [host]:port, negation, @revoked, and what flash decides for each case.
 * Fingerprints are compared with `ssh-keygen -lf`'s.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeKeyPair } from '../support/sshd.ts';
import { needs } from '../support/prerequisites.ts';
import { afterAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  knownKeys,
  preferredHostKeyTypes,
} from '../../tools/flash/known-hosts.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-known-hosts-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function newKey(): { line: string; blob: Buffer; pubFile: string } {
  const file = path.join(dir, `k${Math.random().toString(36).slice(2)}`);
  const pub = writeKeyPair(file, 'known-hosts-test').public.split(/\s+/).slice(0, 2).join(' ');
  const pubFile = `${file}.pub`;
  return { line: pub, blob: Buffer.from(pub.split(' ')[1]!, 'base64'), pubFile };
}

// Without ssh-keygen, keys come from node:crypto (writeKeyPair) and only the comparisons with OpenSSH skip.
const keygen = needs('ssh-keygen');

describe('known_hosts', () => {
  const pi = newKey();
  const other = newKey();

  it.skipIf(keygen.missing)(`fingerprints match ssh-keygen -lf${keygen.note}`, () => {
    const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pi.pubFile], { encoding: 'utf8' });
    expect(fingerprint(pi.blob)).toBe(out.split(/\s+/)[1]);
  });

  it('a listed key is trusted; port 22 is the bare name, other ports [host]:port', () => {
    const text = `raspberrypi.local,192.168.1.5 ${pi.line}\n[127.0.0.1]:2222 ${other.line}\n`;
    expect(checkHostKey(text, 'raspberrypi.local', 22, pi.blob)).toEqual({ ok: true, how: 'known' });
    expect(checkHostKey(text, '192.168.1.5', 22, pi.blob)).toEqual({ ok: true, how: 'known' });
    expect(checkHostKey(text, '127.0.0.1', 2222, other.blob)).toEqual({ ok: true, how: 'known' });
    // The same host on another port is another entry: unknown there.
    expect(checkHostKey(text, 'raspberrypi.local', 2222, pi.blob)).toMatchObject({ ok: false, reason: 'unknown' });
  });

  it.skipIf(keygen.missing)(
    `hashed entries (ssh-keygen -H) match the host they hash, and only it${keygen.note}`,
    () => {
      const file = path.join(dir, 'hashed');
      fs.writeFileSync(file, `raspberrypi.local ${pi.line}\n[10.0.0.7]:2200 ${other.line}\n`);
      execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
      const text = fs.readFileSync(file, 'utf8');
      expect(text).not.toContain('raspberrypi');
      expect(text).toMatch(/^\|1\|/);
      expect(checkHostKey(text, 'raspberrypi.local', 22, pi.blob)).toEqual({ ok: true, how: 'known' });
      expect(checkHostKey(text, '10.0.0.7', 2200, other.blob)).toEqual({ ok: true, how: 'known' });
      expect(knownKeys(text, 'raspberrypi.lan', 22)).toEqual([]);
    },
  );

  it('a different key of the same type is "changed" and refused even with --accept-host-key', () => {
    const text = `raspberrypi.local ${pi.line}\n`;
    expect(checkHostKey(text, 'raspberrypi.local', 22, other.blob, fingerprint(other.blob))).toMatchObject({
      ok: false,
      reason: 'changed',
      fingerprint: fingerprint(other.blob),
      type: 'ssh-ed25519',
    });
  });

  it('an unknown host is trusted only with its own fingerprint', () => {
    expect(checkHostKey('', 'pi', 22, pi.blob)).toMatchObject({
      ok: false,
      reason: 'unknown',
      fingerprint: fingerprint(pi.blob),
    });
    expect(checkHostKey('', 'pi', 22, pi.blob, fingerprint(other.blob))).toMatchObject({
      ok: false,
      reason: 'fingerprint-mismatch',
    });
    expect(checkHostKey('', 'pi', 22, pi.blob, fingerprint(pi.blob))).toEqual({ ok: true, how: 'accepted' });
  });

  it('@revoked refuses the key; @cert-authority lines are ignored; !negation excludes a host', () => {
    expect(checkHostKey(`@revoked * ${pi.line}\n`, 'pi', 22, pi.blob, fingerprint(pi.blob))).toMatchObject({
      ok: false,
      reason: 'revoked',
    });
    expect(checkHostKey(`@cert-authority * ${pi.line}\n`, 'pi', 22, pi.blob)).toMatchObject({
      ok: false,
      reason: 'unknown',
    });
    expect(checkHostKey(`*.local,!evil.local ${pi.line}\n`, 'evil.local', 22, pi.blob)).toMatchObject({
      ok: false,
      reason: 'unknown',
    });
    expect(checkHostKey(`*.local,!evil.local ${pi.line}\n`, 'raspberrypi.local', 22, pi.blob)).toEqual({
      ok: true,
      how: 'known',
    });
  });

  it('appendKnownHost writes a line OpenSSH and checkHostKey read back; listed types are preferred', () => {
    const file = path.join(dir, 'sub', 'known_hosts');
    appendKnownHost(file, '127.0.0.1', 2222, pi.blob);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toBe(`[127.0.0.1]:2222 ${pi.line}\n`);
    expect(checkHostKey(text, '127.0.0.1', 2222, pi.blob)).toEqual({ ok: true, how: 'known' });
    expect(preferredHostKeyTypes(text, '127.0.0.1', 2222)).toEqual(['ssh-ed25519']);
    if (!keygen.missing)
      expect(execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', file], { encoding: 'utf8' })).toContain(
        pi.line,
      );
  });
});
