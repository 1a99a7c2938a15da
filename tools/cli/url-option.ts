/**
 * URL-valued options (`--api`, `--broker`, `--download-url`), checked when the command line is
 * parsed: a value that is not a URL is bad usage (exit 2), said before anything connects, not a
 * "cannot reach" (exit 5) after a connection attempt that could never have worked.
 */
import { InvalidArgumentError } from 'commander';

/** The schemes MQTT.js dials: mqtt:// and ws:// plain, mqtts:// and wss:// over TLS (tcp, ssl, tls: its aliases). */
export const BROKER_SCHEMES = ['mqtt', 'mqtts', 'ws', 'wss', 'tcp', 'ssl', 'tls'] as const;
/** The notification API and the firmware download server. */
export const HTTP_SCHEMES = ['http', 'https'] as const;

/** Why `text` is not a URL of one of `schemes`, or null if it is one. */
export function urlProblem(text: string, schemes: readonly string[]): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a URL';
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (!schemes.includes(scheme)) return `${scheme}:// is not one of ${schemes.map((s) => `${s}://`).join(', ')}`;
  if (!url.hostname) return 'it names no host';
  return null;
}

/** A commander argParser for a URL option: refuses a value that is not a URL of `schemes`. */
export function parseUrlOption(flag: string, schemes: readonly string[], example: string) {
  return (text: string): string => {
    const problem = urlProblem(text, schemes);
    if (problem) {
      throw new InvalidArgumentError(`${flag} must be a URL like ${example}, got ${JSON.stringify(text)} (${problem})`);
    }
    return text;
  };
}

export const parseApiUrl = (flag = '--api') => parseUrlOption(flag, HTTP_SCHEMES, 'http://127.0.0.1:8081');
export const parseBrokerUrl = (flag = '--broker') => parseUrlOption(flag, BROKER_SCHEMES, 'mqtt://127.0.0.1:1883');
