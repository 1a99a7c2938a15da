/**
 * The `ota` command's validation (src/protocol/command.ts) and `payspeaker ota`'s own checks of
 * its input, before anything is uploaded or sent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommand, MAX_FIRMWARE_BYTES } from '../../src/protocol/index.ts';
import { runCli } from '../support/cli.ts';

const good = {
  v: 1,
  id: 'OTA-1',
  command: 'ota',
  url: 'http://127.0.0.1:8081/v1/firmware/payspeaker-firmware-1.2.0.tar.gz',
  version: '1.2.0',
  sha256: 'a'.repeat(64),
  size: 123_456,
  signature: `${'A'.repeat(86)}==`,
};

const parse = (fields: Record<string, unknown>) => parseCommand(JSON.stringify({ ...good, ...fields }));

describe('the ota command', () => {
  it('parses a well-formed command, with and without a deadline', () => {
    expect(parse({})).toEqual({ ok: true, command: good });
    expect(parse({ deadlineMs: 30_000 })).toEqual({ ok: true, command: { ...good, deadlineMs: 30_000 } });
    expect(parse({ url: 'https://fw.example.com/payspeaker-firmware-1.2.0.tar.gz', version: '1.2.0+20260101120000' }).ok).toBe(true);
  });

  const cases: [Record<string, unknown>, RegExp][] = [
    [{ url: undefined }, /"url" is undefined: ota needs the http\(s\) URL of the release's tar.gz/],
    [{ url: 'ftp://host/x.tar.gz' }, /"url" is "ftp:\/\/host\/x.tar.gz": ota needs the http\(s\) URL/],
    [{ url: 'not a url' }, /"url" is "not a url"/],
    [{ url: 'http://user:secret@host/x.tar.gz' }, /"url" is .*: ota needs the http\(s\) URL/],
    [{ url: `http://h/${'x'.repeat(2100)}` }, /"url" is .*: ota needs/],
    [{ version: '../../etc' }, /"version" is "..\/..\/etc": it must be 1-64 letters, digits/],
    [{ version: 7 }, /"version" is 7/],
    [{ sha256: 'A'.repeat(64) }, /"sha256" is "A+\.\.\.: it must be the tar.gz's sha256, 64 lowercase hex digits/],
    [{ sha256: 'a'.repeat(63) }, /"sha256" is .*64 lowercase hex digits/],
    [{ size: 0 }, /"size" is 0: it must be the tar.gz's size in bytes, 1 to 268435456/],
    [{ size: 1.5 }, /"size" is 1.5/],
    [{ size: MAX_FIRMWARE_BYTES + 1 }, /"size" is 268435457/],
    [{ size: '100' }, /"size" is "100"/],
    [{ signature: 'not base64!' }, /"signature" is "not base64!": it must be the release's base64 Ed25519 signature \(88 characters\)/],
    [{ signature: 'QUJD' }, /"signature" is "QUJD"/],
    [{ deadlineMs: 1000 }, /"deadlineMs" is 1000: it must be an integer from 5000 to 3600000/],
    [{ deadlineMs: 4_000_000 }, /"deadlineMs" is 4000000/],
    [{ deadlineMs: '60s' }, /"deadlineMs" is "60s"/],
  ];
  it.each(cases.map(([fields, error]) => [JSON.stringify(fields).slice(0, 60), fields, error] as const))('refuses %s with a specific error', (_label, fields, error) => {
    const r = parse(fields);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r).toMatchObject({ id: 'OTA-1', command: 'ota' });
    expect(r.error).toMatch(error);
  });

  it('names ota among the commands when the name is wrong, and keeps the id for the result', () => {
    const r = parse({ command: 'update' });
    expect(r).toMatchObject({ ok: false, id: 'OTA-1', command: null });
    expect(!r.ok && r.error).toMatch(/"command" is "update": it must be one of volume-up, .*battery, ota/);
  });
});

describe('payspeaker ota: input checks before anything is sent', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-ota-cli-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ota = (args: string[]) => runCli(['ota', ...args, '--data', dir, '--api', 'http://127.0.0.1:9', '--broker', 'mqtt://127.0.0.1:9']);

  it('refuses a bad device id, a missing release, a release that is not one, and a missing tarball (exit 2)', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ version: '1.0.0', file: '../x.tar.gz' }));
    const lonely = path.join(dir, 'payspeaker-firmware-1.0.0.json');
    fs.writeFileSync(lonely, JSON.stringify({ version: '1.0.0', file: 'payspeaker-firmware-1.0.0.tar.gz', sha256: 'b'.repeat(64), size: 10, signature: `${'A'.repeat(86)}==` }));
    for (const [args, message] of [
      [['SPK/1', '--release', lonely], /"SPK\/1" is not a device id/],
      [['SPK-1', '--release', path.join(dir, 'nope.json')], /--release .*nope.json: no such file: pass the payspeaker-firmware-<version>.json that "npx payspeaker image build" wrote/],
      [['SPK-1', '--release', bad], /--release .*bad.json is not a firmware release: "file" "..\/x.tar.gz" is not a plain file name/],
      [['SPK-1', '--release', lonely], /its tarball .*payspeaker-firmware-1.0.0.tar.gz is missing: keep it beside the release JSON/],
      [['SPK-1'], /required option '--release <file.json>' not specified/],
    ] as const) {
      const r = await ota([...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  }, 60_000);

  it('says the broker is unreachable (exit 5) before uploading anything', async () => {
    fs.writeFileSync(path.join(dir, 'payspeaker-firmware-1.0.0.tar.gz'), 'x'.repeat(10));
    const r = await ota(['SPK-1', '--release', path.join(dir, 'payspeaker-firmware-1.0.0.json'), '--insecure']);
    expect(r.code, r.stderr).toBe(5);
    // The device's presence is asked over MQTT first: nothing is uploaded to a broker that is not there.
    expect(r.stderr).toMatch(/cannot connect to the broker at mqtt:\/\/127.0.0.1:9/);
    expect(r.stderr).not.toMatch(/uploading/);
  });
});
