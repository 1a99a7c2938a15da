/** Parsers for option values: each rejects a bad value with what was given and what is allowed. */
import { InvalidArgumentError } from 'commander';

export function parsePort(flag: string) {
  return (text: string): number => {
    const port = Number(text);
    if (!/^\d+$/.test(text) || port > 65535) {
      throw new InvalidArgumentError(
        `${flag} must be a port number from 0 to 65535 (0 picks a free one), got ${JSON.stringify(text)}`,
      );
    }
    return port;
  };
}

export function parseCount(flag: string, min = 1) {
  return (text: string): number => {
    if (!/^\d+$/.test(text) || Number(text) < min) {
      throw new InvalidArgumentError(`${flag} must be a whole number of at least ${min}, got ${JSON.stringify(text)}`);
    }
    return Number(text);
  };
}
