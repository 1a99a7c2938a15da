/**
 * The device registry: one SQLite file (better-sqlite3, WAL) shared by the broker and the CLI
 * (`provision`, `devices`, `revoke`), which are different processes. WAL lets the CLI write
 * while the broker reads; `changedElsewhere()` tells the broker that another process wrote.
 *
 * It stores who may connect (role, salted secret hash, status) and presence (online, last
 * seen). It never stores a secret: see credentials.ts and docs/SECURITY.md.
 */
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { ensureBrokerDir, registryFile } from './data-dir.ts';
import { openWalDatabase } from './database.ts';

export type Role = 'device' | 'backend';
export type Status = 'active' | 'revoked';

/** What anyone may see about an identity. */
export interface RegistryEntry {
  id: string;
  role: Role;
  status: Status;
  createdAt: number;
  revokedAt: number | null;
  lastSeenAt: number | null;
  online: boolean;
}

/** Plus what only authentication needs. */
export interface StoredIdentity extends RegistryEntry {
  salt: Buffer;
  secretHash: Buffer;
}

/** A row as SQLite returns it, columns already renamed by COLUMNS; `online` is 0 or 1. */
type Row = Omit<StoredIdentity, 'online'> & { online: number };
const COLUMNS = `id, role, status, salt, secret_hash AS secretHash, created_at AS createdAt, revoked_at AS revokedAt,
  last_seen_at AS lastSeenAt, online`;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS devices (
    id           TEXT PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('device', 'backend')),
    salt         BLOB NOT NULL,
    secret_hash  BLOB NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_seen_at INTEGER,
    online       INTEGER NOT NULL DEFAULT 0
  )`;

export class DuplicateIdentityError extends Error {
  constructor(readonly id: string) {
    super(`${id} is already in the registry`);
    this.name = 'DuplicateIdentityError';
  }
}

export interface RegistryOptions {
  /**
   * The broker's connection writes presence on every connect and disconnect and serves every
   * device from one event loop: it trades the fsync per write for speed (synchronous=NORMAL: in
   * WAL mode the file stays consistent, a power cut may lose the last presence updates) and
   * waits only briefly for a lock. The CLI keeps FULL (a revocation must stick) and waits longer.
   */
  forBroker?: boolean;
}

export class Registry {
  private lastDataVersion: number;
  // Prepared once: find and setPresence run on every connect and disconnect.
  private readonly findStmt: Database.Statement<[string], Row>;
  private readonly presenceStmt: Database.Statement<[number, number, string]>;

  private constructor(private readonly db: Database.Database) {
    this.findStmt = db.prepare<[string], Row>(`SELECT ${COLUMNS} FROM devices WHERE id = ?`);
    this.presenceStmt = db.prepare<[number, number, string]>(
      'UPDATE devices SET online = ?, last_seen_at = ? WHERE id = ?',
    );
    this.lastDataVersion = this.dataVersion();
  }

  static open(file: string, opts: RegistryOptions = {}): Registry {
    let db: Database.Database;
    try {
      db = openWalDatabase(file, {
        // Hashes are not secrets, but who is provisioned is nobody else's business. Done before
        // the first write, so SQLite gives the -wal and -shm files the same mode.
        beforeFirstWrite: restrictMode,
        // The broker and a CLI command may write at once; better-sqlite3 waits synchronously.
        busyTimeoutMs: opts.forBroker ? 200 : 5000,
        synchronous: opts.forBroker ? 'NORMAL' : 'FULL',
        schema: SCHEMA,
      });
    } catch (err) {
      throw new Error(`cannot open the device registry ${file}: ${(err as Error).message}`, { cause: err });
    }
    return new Registry(db);
  }

  find(id: string): StoredIdentity | null {
    const row = this.findStmt.get(id);
    return row ? toIdentity(row) : null;
  }

  list(role: Role = 'device'): RegistryEntry[] {
    const rows = this.db.prepare<[Role], Row>(`SELECT ${COLUMNS} FROM devices WHERE role = ? ORDER BY id`).all(role);
    return rows.map((row) => publicPart(toIdentity(row)));
  }

  /**
   * Records an identity. `replace` gives an existing one a new secret and reactivates it;
   * without it an existing id throws DuplicateIdentityError (the primary key decides, so two
   * concurrent `provision` runs cannot both win).
   */
  save(e: { id: string; role: Role; salt: Buffer; secretHash: Buffer; now: number; replace: boolean }): void {
    const insert = `INSERT INTO devices (id, role, salt, secret_hash, status, created_at) VALUES (?, ?, ?, ?, 'active', ?)`;
    const upsert = `${insert} ON CONFLICT (id) DO UPDATE SET role = excluded.role, salt = excluded.salt,
      secret_hash = excluded.secret_hash, status = 'active', revoked_at = NULL`;
    try {
      this.db.prepare(e.replace ? upsert : insert).run(e.id, e.role, e.salt, e.secretHash, e.now);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new DuplicateIdentityError(e.id);
      throw err;
    }
  }

  /** Marks an identity revoked; false if there is none. Revoking twice keeps the first time. */
  revoke(id: string, now: number): boolean {
    const result = this.db
      .prepare(`UPDATE devices SET status = 'revoked', revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`)
      .run(now, id);
    return result.changes > 0;
  }

  setPresence(id: string, online: boolean, now: number): void {
    this.presenceStmt.run(online ? 1 : 0, now, id);
  }

  /** After a crash the online flags are stale: a starting broker has no connections yet. */
  markAllOffline(): void {
    this.db.prepare('UPDATE devices SET online = 0 WHERE online = 1').run();
  }

  /**
   * True when another process (a CLI `revoke` or `provision`) committed since the last call.
   * SQLite's data_version changes only for other connections' commits, so the broker's own
   * presence writes do not wake it.
   */
  changedElsewhere(): boolean {
    const version = this.dataVersion();
    const changed = version !== this.lastDataVersion;
    this.lastDataVersion = version;
    return changed;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }
}

/** The registry of a data directory, created (with DIR/broker, 0700) on first use. */
export function openRegistry(dataDir: string, opts: RegistryOptions = {}): Registry {
  ensureBrokerDir(dataDir);
  return Registry.open(registryFile(dataDir), opts);
}

/** For read-only commands: no registry yet means no devices, not a new empty file. */
export function registryExists(dataDir: string): boolean {
  // Not existsSync: that says "no" for a directory we may not read, and an unreadable data
  // directory would look like an empty one. Only a missing file is "no"; EACCES throws.
  return fs.statSync(registryFile(dataDir), { throwIfNoEntry: false }) !== undefined;
}

function restrictMode(file: string): void {
  try {
    fs.chmodSync(file, 0o600);
  } catch {
    // Not our file (another user's registry we may read): leave its mode to its owner.
  }
}

function toIdentity(row: Row): StoredIdentity {
  return { ...row, online: row.online === 1 };
}

function publicPart({ salt: _salt, secretHash: _hash, ...entry }: StoredIdentity): RegistryEntry {
  return entry;
}
