/**
 * TLS for the broker (issue 4, item 5): a development certificate authority and a server
 * certificate it signs, kept in DIR/certs/ next to DIR/broker/.
 *
 *   ca.pem           the CA certificate: devices trust it (provision copies it into their config)
 *   ca-key.pem       the CA's private key (0600): whoever reads it can impersonate the broker
 *   server.pem       the broker's certificate, signed by the CA, naming the hosts devices dial
 *   server-key.pem   the broker's private key (0600)
 *
 * Node can verify X.509 certificates but not make them; `selfsigned` (5.x, on @peculiar/x509
 * and WebCrypto) makes both. Keys are ECDSA P-256, signatures SHA-256.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import crypto from 'node:crypto';
import { generate as generateCertificate } from 'selfsigned';
import { writeSecretFile } from './data-dir.ts';

export interface TlsFiles {
  dir: string;
  ca: string;
  caKey: string;
  cert: string;
  key: string;
}

export function certsDir(dataDir: string): string {
  return path.join(dataDir, 'certs');
}

export function tlsFiles(dataDir: string): TlsFiles {
  const dir = certsDir(dataDir);
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server-key.pem'),
  };
}

/** The development CA's certificate (PEM) if `certs` has made one in DIR/certs/, else null. */
export function readCaCertificate(dataDir: string): string | null {
  try {
    return fs.readFileSync(tlsFiles(dataDir).ca, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export const DEFAULT_CERT_HOSTS: readonly string[] = Object.freeze(['127.0.0.1', 'localhost', '::1']);

export class CertsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertsError';
  }
}

export interface CreateCertsOptions {
  /** IP addresses and DNS names the server certificate is valid for (its subjectAltNames). */
  hosts?: readonly string[];
  /** Issue a new server certificate even if one exists (with the existing CA, if there is one). */
  force?: boolean;
  /** Also make a new CA: every device config made with the old one stops trusting the broker. */
  newCa?: boolean;
  /** Validity of the server certificate in days (the CA gets ten times as long). Default 825. */
  days?: number;
  now?: Date;
}

export interface CreatedCerts {
  files: TlsFiles;
  hosts: string[];
  /** False when an existing CA signed the new server certificate. */
  createdCa: boolean;
  notAfter: Date;
}

type AltName = { type: 2; value: string } | { type: 7; ip: string };

/** A host as a subjectAltName: an IP address (v4 or v6) or a DNS name; anything else is refused. */
export function altName(host: string): AltName {
  const h = host.trim();
  const bare = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  if (net.isIP(bare)) return { type: 7, ip: bare };
  if (/^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(h))
    return { type: 2, value: h.toLowerCase() };
  throw new CertsError(
    `--host ${JSON.stringify(host)} is neither an IP address nor a DNS name: pass e.g. --host 192.168.1.20 or --host broker.local`,
  );
}

/**
 * Makes DIR/certs/: a CA (unless one exists and `newCa` is not set) and a server certificate it
 * signs. Refuses to replace a server certificate without `force`, so a second run changes nothing
 * by accident. Private keys are written 0600 through a temp file.
 */
export async function createDevelopmentCerts(dataDir: string, opts: CreateCertsOptions = {}): Promise<CreatedCerts> {
  const files = tlsFiles(dataDir);
  const hosts = [...new Set((opts.hosts?.length ? opts.hosts : DEFAULT_CERT_HOSTS).map((h) => h.trim()))];
  const altNames = hosts.map(altName);
  const days = opts.days ?? 825;
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw new CertsError(`--days must be a whole number from 1 to 3650, got ${days}`);
  if (fs.existsSync(files.cert) && !opts.force && !opts.newCa) {
    throw new CertsError(
      `${files.cert} already exists: pass --force to issue a new server certificate with the same CA (devices keep working), or --new-ca to start over (devices must be provisioned again)`,
    );
  }
  try {
    fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new CertsError(`cannot create ${files.dir}: ${(err as Error).message}: choose another with --data DIR`);
  }
  const notBefore = new Date((opts.now ?? new Date()).getTime() - 60_000); // a little slack for clock skew
  const ca = opts.newCa ? null : loadCa(files);
  let caPems: { cert: string; key: string };
  if (ca) {
    caPems = ca;
  } else {
    // A name of its own: two development CAs never look alike to a client's chain building.
    const caName = `payspeaker development CA ${crypto.randomBytes(4).toString('hex')}`;
    const made = await generateCertificate(
      [
        { name: 'commonName', value: caName },
        { name: 'organizationName', value: 'payspeaker' },
      ],
      {
        keyType: 'ec',
        curve: 'P-256',
        algorithm: 'sha256',
        notBeforeDate: notBefore,
        notAfterDate: addDays(notBefore, days * 10),
        extensions: [
          { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
        ],
      },
    );
    caPems = { cert: made.cert, key: made.private };
  }
  const notAfter = addDays(notBefore, days);
  const server = await generateCertificate(
    [
      { name: 'commonName', value: hosts[0]! },
      { name: 'organizationName', value: 'payspeaker' },
    ],
    {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: notBefore,
      notAfterDate: notAfter,
      ca: { cert: caPems.cert, key: caPems.key },
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames },
      ],
    },
  );
  // CA first, server last: a crash in between leaves a CA and no server certificate, which the next run completes.
  if (!ca) {
    writeSecretFile(files.caKey, caPems.key);
    writeFileAtomic(files.ca, caPems.cert);
  }
  writeSecretFile(files.key, server.private);
  writeFileAtomic(files.cert, server.cert);
  return { files, hosts, createdCa: !ca, notAfter };
}

/** The existing CA's certificate and key, or null if there is none; half a CA is an error. */
function loadCa(files: TlsFiles): { cert: string; key: string } | null {
  const cert = readIfExists(files.ca);
  const key = readIfExists(files.caKey);
  if (cert === null && key === null) return null;
  if (cert === null || key === null) {
    throw new CertsError(
      `${cert === null ? files.ca : files.caKey} is missing but ${cert === null ? files.caKey : files.ca} exists: pass --new-ca to make a new CA (devices must be provisioned again)`,
    );
  }
  try {
    const x = new crypto.X509Certificate(cert);
    if (!x.checkPrivateKey(crypto.createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
    if (!x.ca) throw new Error('the certificate is not a CA');
  } catch (err) {
    throw new CertsError(
      `the CA in ${files.dir} is unusable (${(err as Error).message}): pass --new-ca to make a new one`,
    );
  }
  return { cert, key };
}

function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

function addDays(d: Date, days: number): Date {
  return new Date(d.getTime() + days * 86_400_000);
}

/** What a TLS listener needs: the server's certificate chain and key, as PEM. */
export interface ServerTls {
  cert: string;
  key: string;
}

/**
 * Reads the broker's certificate and key, and checks they belong together, so a mistake shows
 * at start with the file names rather than as failed handshakes later.
 */
export function loadServerTls(certFile: string, keyFile: string): ServerTls {
  const read = (file: string, what: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new Error(
        `cannot read the broker's TLS ${what} ${file} (${why}): make one with "npx payspeaker certs", or pass --tls-cert/--tls-key`,
        { cause: err },
      );
    }
  };
  const cert = read(certFile, 'certificate');
  const key = read(keyFile, 'key');
  try {
    const x = new crypto.X509Certificate(cert);
    if (!x.checkPrivateKey(crypto.createPrivateKey(key))) throw new Error(`${keyFile} is not the key of ${certFile}`);
    if (Date.parse(x.validTo) < Date.now())
      throw new Error(`${certFile} expired on ${x.validTo}: issue a new one with "npx payspeaker certs --force"`);
  } catch (err) {
    throw new Error(`the broker's TLS certificate is unusable: ${(err as Error).message}`, { cause: err });
  }
  return { cert, key };
}

/** The subjectAltNames of a PEM certificate as `IP:…`/`DNS:…` strings (for reports and tests). */
export function subjectAltNames(certPem: string): string[] {
  const san = new crypto.X509Certificate(certPem).subjectAltName;
  if (!san) return [];
  return san.split(', ').map((s) => s.replace(/^IP Address:/, 'IP:'));
}
