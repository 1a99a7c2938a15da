/**
 * Which local addresses a fleet's device connections come from. A TCP connection is named by
 * (source address, source port, broker address, broker port), and the source ports are the
 * ephemeral range (net.ipv4.ip_local_port_range: 32768-60999 by default, about 28,000): one
 * source address reaches one broker port at most ~28,000 times. 100,000 speakers on one machine
 * need several. On Linux the whole of 127.0.0.0/8 is loopback, so 127.0.0.2, 127.0.0.3, … need
 * no setup; elsewhere an address must be one of the machine's interfaces (an alias on lo0).
 */
import net from 'node:net';
import os from 'node:os';

/**
 * Connections per source address. A socket bound to an address before connecting (how the
 * address is chosen) gets its port at bind(), and since Linux 4.6 bind() looks among the odd
 * ports of the range first (connect() takes the even ones): ~14,000 of them. Past that each
 * bind() searches the whole range; at 25,000 per address it took 15 ms of kernel time per
 * socket, and a 100,000-speaker fleet stalled at 97,000 with its workers busy binding. 10,000
 * stays well inside the odd half.
 */
export const CONNECTIONS_PER_SOURCE_ADDRESS = 10_000;

/** A bad `--source-addresses`: the message names the value and what to give instead. */
export class SourceAddressError extends Error {
  override name = 'SourceAddressError';
}

/** Parses "127.0.0.2,127.0.0.3" and checks each is an IP address of this machine. */
export function parseSourceAddresses(text: string): string[] {
  const list = text
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (list.length === 0)
    throw new SourceAddressError(
      `--source-addresses ${JSON.stringify(text)} names no address: give local IP addresses separated by commas, e.g. 127.0.0.2,127.0.0.3`,
    );
  for (const a of list) {
    if (net.isIP(a) === 0)
      throw new SourceAddressError(
        `--source-addresses: ${JSON.stringify(a)} is not an IP address: give local IP addresses separated by commas, e.g. 127.0.0.2,127.0.0.3`,
      );
    if (!isLocalAddress(a))
      throw new SourceAddressError(
        `--source-addresses: ${a} is not an address of this machine (${localSummary()}): give one of them${process.platform === 'linux' ? ', or any of 127.0.0.0/8' : ''}`,
      );
  }
  if (new Set(list.map((a) => net.isIP(a))).size > 1)
    throw new SourceAddressError(
      `--source-addresses ${text} mixes IPv4 and IPv6: a connection's source must be of the broker's family, give one family`,
    );
  return [...new Set(list)];
}

/** True for an address the machine can send from: one of its interfaces, or (Linux) anything in 127/8. */
export function isLocalAddress(address: string): boolean {
  if (process.platform === 'linux' && net.isIPv4(address) && address.startsWith('127.')) return true;
  return Object.values(os.networkInterfaces()).some((list) => list?.some((i) => sameAddress(i.address, address)));
}

function sameAddress(a: string, b: string): boolean {
  return a.replace(/%.*$/, '').toLowerCase() === b.toLowerCase();
}

function localSummary(): string {
  const all = Object.values(os.networkInterfaces()).flatMap((l) => l?.map((i) => i.address) ?? []);
  return `its interfaces have ${all.slice(0, 6).join(', ')}${all.length > 6 ? ', …' : ''}`;
}

/** The broker URL's host, without IPv6 brackets; '' when the URL does not parse. */
function hostOf(brokerUrl: string): string {
  try {
    return new URL(brokerUrl).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || (net.isIPv4(host) && host.startsWith('127.')) || host === '::1';
}

/**
 * The source addresses for a fleet of `connections` device connections to `brokerUrl`: the
 * ones asked for (checked against the broker's address), or, when none were asked for and one
 * address would run out of ports, 127.0.0.1, 127.0.0.2, … for a broker on IPv4 loopback under
 * Linux. An empty list: let the system choose, as for any other client.
 */
export function chooseSourceAddresses(brokerUrl: string, connections: number, asked: string[] | null): string[] {
  const host = hostOf(brokerUrl);
  if (asked) {
    checkReachable(asked, host, brokerUrl);
    return asked;
  }
  if (connections <= CONNECTIONS_PER_SOURCE_ADDRESS) return [];
  if (process.platform !== 'linux' || !(host === 'localhost' || (net.isIPv4(host) && host.startsWith('127.'))))
    return [];
  const n = Math.ceil(connections / CONNECTIONS_PER_SOURCE_ADDRESS);
  // 127.0.0.1 … 127.0.0.n: n stays far below 254 for any fleet one machine can hold.
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
}

/** A loopback source cannot reach another machine, nor an IPv4 source an IPv6 broker. */
function checkReachable(addresses: string[], host: string, brokerUrl: string): void {
  const first = addresses[0]!;
  const loopback = addresses.filter((a) => isLoopbackHost(a));
  if (net.isIP(host) !== 0 && net.isIP(host) !== net.isIP(first))
    throw new SourceAddressError(
      `--source-addresses ${first} is IPv${net.isIP(first)} but the broker ${brokerUrl} is IPv${net.isIP(host)}: give addresses of the broker's family`,
    );
  if (host && loopback.length > 0 && !isLoopbackHost(host))
    throw new SourceAddressError(
      `--source-addresses: ${loopback[0]} is a loopback address, which cannot reach the broker ${brokerUrl}: give addresses of an interface that reaches it`,
    );
}

/** Device i's source address: round robin, so every address carries an even share. */
export function sourceAddressOf(addresses: readonly string[], deviceIndex: number): string | null {
  return addresses.length === 0 ? null : addresses[deviceIndex % addresses.length]!;
}
