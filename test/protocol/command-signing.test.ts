/**
 * Signed commands (src/protocol/command-signing.ts): the canonical bytes, signing and verifying
 * with the backend's Ed25519 key, and what a changed field does to the signature; the parser's
 * checks of the signature fields; and the version order OTA anti-rollback uses (versions.ts).
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalCommand,
  compareVersions,
  isOlderVersion,
  parseCommand,
  type Command,
  type UnsignedCommand,
} from '../../src/protocol/index.ts';
import { signCommand, signNotification, verifyCommand } from '../../src/protocol/signing-node.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const createdAt = 1_795_528_613_108;

const replay: UnsignedCommand = { v: 1, id: 'CMD-42', device: 'SPK-0001', command: 'replay', createdAt };
const volume: UnsignedCommand = { v: 1, id: 'CMD-43', device: 'SPK-0001', command: 'set-volume', value: 0, createdAt };
const ota: UnsignedCommand = {
  v: 1,
  id: 'OTA-1',
  device: 'SPK-0001',
  command: 'ota',
  createdAt,
  url: 'http://127.0.0.1:8081/v1/firmware/payspeaker-firmware-1.2.0.tar.gz',
  version: '1.2.0',
  sha256: 'a'.repeat(64),
  size: 123_456,
  signature: `${'A'.repeat(86)}==`,
  deadlineMs: 60_000,
};

/** What a device does: parse the JSON text it received, then verify. */
const receive = (wire: unknown) => {
  const parsed = parseCommand(JSON.stringify(wire), 'SPK-0001');
  if (!parsed.ok) throw new Error(parsed.error);
  return verifyCommand(parsed.command, publicKey);
};

describe('canonical command bytes', () => {
  it('are the header and one name=value line per signed field, in a fixed order', () => {
    expect(Buffer.from(canonicalCommand(volume)).toString()).toBe(
      'payspeaker/v1/command\nv=1\nid=CMD-43\ndevice=SPK-0001\ncommand=set-volume\ncreatedAt=1795528613108\nvalue=0\n',
    );
    expect(Buffer.from(canonicalCommand({ ...ota, allowDowngrade: true })).toString()).toBe(
      'payspeaker/v1/command\nv=1\nid=OTA-1\ndevice=SPK-0001\ncommand=ota\ncreatedAt=1795528613108\n' +
        `url=${ota.command === 'ota' && ota.url}\nversion=1.2.0\nsha256=${'a'.repeat(64)}\nsize=123456\n` +
        `signature=${'A'.repeat(86)}==\ndeadlineMs=60000\nallowDowngrade=true\n`,
    );
  });

  it('refuse to encode a command without a device or a time, or with a newline in a value', () => {
    expect(() => canonicalCommand({ v: 1, id: 'CMD-1', command: 'replay' } as Command)).toThrow(
      /cannot sign or verify a command whose "device" is undefined: parse it with parseCommand first/,
    );
    expect(() => canonicalCommand({ ...ota, url: 'http://h/x\nversion=9.9.9' } as Command)).toThrow(/"url"/);
    // The parser refuses such a URL too, though the WHATWG URL parser itself would strip the newline.
    expect(parseCommand(JSON.stringify({ ...ota, url: 'http://h/x\nversion=9.9.9' }))).toMatchObject({ ok: false });
  });
});

describe('signCommand / verifyCommand', () => {
  it('verifies what it signed, after a trip through JSON and the parser, for every kind of command', () => {
    for (const c of [replay, volume, ota, { ...ota, allowDowngrade: true as const }]) {
      const signed = signCommand(c, privateKey);
      expect(signed.sig).toMatch(/^[A-Za-z0-9_-]{86}$/);
      expect(receive(signed)).toEqual({ ok: true });
    }
  });

  it('sends only the known fields: what is sent is what is signed', () => {
    const signed = signCommand({ ...replay, value: 5, extra: 'x' } as UnsignedCommand, privateKey);
    expect(Object.keys(signed).sort()).toEqual(['command', 'createdAt', 'device', 'id', 'sig', 'v']);
  });

  const changes: [string, (wire: Record<string, unknown>) => Record<string, unknown>][] = [
    ['another command', (w) => ({ ...w, command: 'summary' })],
    ['another volume', (w) => ({ ...w, value: 10 })],
    ['another id (dedupe bypass)', (w) => ({ ...w, id: 'CMD-44' })],
    ['a newer createdAt (freshness bypass)', (w) => ({ ...w, createdAt: createdAt + 60_000 })],
  ];
  it.each(changes)('fails on %s', (_what, change) => {
    const wire = signCommand(volume, privateKey) as unknown as Record<string, unknown>;
    expect(receive(change(wire))).toEqual({
      ok: false,
      reason: 'bad-signature',
      detail: 'signature does not match: the command was altered or signed by another key',
    });
  });

  it('fails for another device: the device id is signed', () => {
    const forOther = signCommand({ ...replay, device: 'SPK-0002' }, privateKey);
    const parsed = parseCommand(JSON.stringify({ ...forOther, device: 'SPK-0001' }), 'SPK-0001');
    expect(parsed.ok && verifyCommand(parsed.command, publicKey)).toMatchObject({ ok: false, reason: 'bad-signature' });
    // Left as it was, the parser of SPK-0001 refuses it outright.
    expect(parseCommand(JSON.stringify(forOther), 'SPK-0001')).toMatchObject({
      ok: false,
      error: '"device" is "SPK-0002": this command is for another speaker (this is SPK-0001)',
    });
  });

  it('fails for an ota command given allowDowngrade after it was signed, or given a longer deadline', () => {
    const wire = signCommand(ota, privateKey);
    expect(receive({ ...wire, allowDowngrade: true })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(receive({ ...wire, deadlineMs: 3_600_000 })).toMatchObject({ ok: false, reason: 'bad-signature' });
    // allowDowngrade: false means the same as absent, so it changes nothing.
    expect(receive({ ...wire, allowDowngrade: false })).toEqual({ ok: true });
  });

  it('fails without a signature, with another key, and for a notification signature passed off as a command', () => {
    expect(receive(replay)).toEqual({ ok: false, reason: 'bad-signature', detail: 'no signature' });
    expect(receive(signCommand(replay, other.privateKey))).toMatchObject({ ok: false, reason: 'bad-signature' });
    const n = signNotification(
      {
        v: 1,
        id: 'CMD-42',
        device: 'SPK-0001',
        amount: 100,
        currency: 'CNY',
        channel: 'wechat',
        kind: 'payment',
        createdAt,
      },
      privateKey,
    );
    expect(receive({ ...replay, sig: n.sig })).toMatchObject({ ok: false, reason: 'bad-signature' });
  });
});

describe('parseCommand: the signature fields', () => {
  const base = { v: 1, id: 'CMD-1', command: 'replay' };
  it('keeps device, createdAt and sig when well formed, and runs unsigned commands as before', () => {
    expect(parseCommand(JSON.stringify(base))).toEqual({ ok: true, command: base });
    const sig = 'A'.repeat(86);
    expect(parseCommand(JSON.stringify({ ...base, device: 'SPK-1', createdAt, sig }), 'SPK-1')).toEqual({
      ok: true,
      command: { ...base, device: 'SPK-1', createdAt, sig },
    });
  });

  it.each([
    [{ device: 'SPK/1' }, /"device" is "SPK\/1": it must be the id of the device/],
    [{ createdAt: '1795528613108' }, /"createdAt" is "1795528613108": it must be when the command was made/],
    [{ createdAt: -1 }, /"createdAt" is -1/],
    [{ sig: 'short' }, /"sig" is "short": it must be the backend's Ed25519 signature, 86 characters of base64url/],
  ])('refuses %j', (fields, error) => {
    const r = parseCommand(JSON.stringify({ ...base, ...fields }));
    expect(r).toMatchObject({ ok: false, id: 'CMD-1', command: 'replay' });
    expect(!r.ok && r.error).toMatch(error);
  });

  it('takes allowDowngrade on ota only as a boolean, and keeps it only when true', () => {
    const { sig: _sig, ...fields } = signCommand(ota, privateKey);
    expect(parseCommand(JSON.stringify({ ...fields, allowDowngrade: true }))).toMatchObject({
      ok: true,
      command: { allowDowngrade: true },
    });
    const off = parseCommand(JSON.stringify({ ...fields, allowDowngrade: false }));
    expect(off.ok && 'allowDowngrade' in off.command).toBe(false);
    expect(parseCommand(JSON.stringify({ ...fields, allowDowngrade: 'yes' }))).toMatchObject({
      ok: false,
      error: '"allowDowngrade" is "yes": it must be true (install an older version on purpose) or absent',
    });
  });
});

describe('compareVersions (OTA anti-rollback)', () => {
  const ascending = [
    '0.9.0',
    '1.0.0-2',
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
    '1.0.1',
    '1.2',
    '1.9.0',
    '1.10.0',
    '2.0.0',
    '10.0.0',
  ];
  it('orders semver-ish versions: numeric segments as numbers, pre-releases below their release', () => {
    for (let i = 0; i < ascending.length; i++) {
      for (let j = 0; j < ascending.length; j++) {
        expect(Math.sign(compareVersions(ascending[i]!, ascending[j]!)), `${ascending[i]} vs ${ascending[j]}`).toBe(
          Math.sign(i - j),
        );
      }
    }
  });

  it('treats a missing segment as 0, ignores build metadata and a leading v, compares other text as ASCII', () => {
    expect(compareVersions('1.2', '1.2.0')).toBe(0);
    expect(compareVersions('1.2.0+20260101', '1.2.0+20260202')).toBe(0);
    expect(compareVersions('v1.2.0', '1.2.0')).toBe(0);
    expect(compareVersions('1.02.0', '1.2.0')).toBe(0);
    expect(isOlderVersion('1.2.x', '1.2.y')).toBe(true);
    expect(isOlderVersion('1.2.9', '1.2.x')).toBe(true); // a number ranks below text
    expect(isOlderVersion('1.0.0', '1.0.0')).toBe(false);
    expect(isOlderVersion('20260101120000.1', '20260101120000.2')).toBe(true); // beyond safe integers too
  });
});
