/**
 * Several processes open one new broker database at the same moment, as two cluster brokers
 * sharing a --data dir do when started together. SQLite refuses the switch to WAL with
 * SQLITE_BUSY without waiting (CI once failed: "cannot open the payment outbox …: database is
 * locked"); every opener must get through, and every row each one wrote must be there.
 * Each round spawns real processes that spin until an agreed instant, then open.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { registryFile } from '../../broker/data-dir.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const OPENER = path.join(ROOT, 'test/fixtures/open-broker-db.ts');
// Before the fix, 3 openers failed in about 1 round of 5; 12 rounds of 4 make a pass by luck unlikely.
const ROUNDS = 12;
const OPENERS = 4;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

it(`${OPENERS} processes opening one new broker database at once all succeed, ${ROUNDS} rounds`, async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-open-race-'));
    dirs.push(dir);
    // Far enough ahead that every opener has loaded its modules (tsx) before the instant.
    const startAt = Date.now() + 1500;
    const names = Array.from({ length: OPENERS }, (_, i) => `R${round}-${i}`);
    const outputs = await Promise.all(
      names.map((name) =>
        promisify(execFile)(process.execPath, ['--import', 'tsx', OPENER, dir, String(startAt), name], {
          cwd: ROOT,
          timeout: 30_000,
        }),
      ),
    );
    expect(
      outputs.map((o) => o.stdout.trim()),
      `round ${round}`,
    ).toEqual(names.map(() => 'opened'));
    const db = new Database(registryFile(dir), { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect((db.prepare('SELECT id FROM devices ORDER BY id').all() as { id: string }[]).map((r) => r.id)).toEqual(
        names.map((n) => `SPK-${n}`).sort(),
      );
      expect(
        (db.prepare('SELECT device FROM payments ORDER BY device').all() as { device: string }[]).map((r) => r.device),
      ).toEqual(names.map((n) => `SPK-${n}`).sort());
    } finally {
      db.close();
    }
  }
}, 120_000);
