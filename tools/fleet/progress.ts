/**
 * The live line a fleet run keeps on a terminal (stderr): connections while connecting, then
 * sent, heard, lost, duplicates and the running p50/p99. Off the terminal it stays silent; the
 * report at the end says everything.
 */
import type { FleetSnapshot } from './run.ts';

const ms = (us: number) => (us / 1000).toFixed(us < 10_000 ? 2 : 1);

export function progressLine(s: FleetSnapshot): string {
  const h = s.tally.corrected;
  const latency = h.totalCount
    ? `  p50 ${ms(h.getValueAtPercentile(50))} ms  p99 ${ms(h.getValueAtPercentile(99))} ms`
    : '';
  return `${s.phase.padEnd(10)} connected ${s.connected}/${s.devices}  sent ${s.sent}  heard ${s.heard}  lost ${s.lost}  duplicates ${s.duplicates}${latency}`;
}

/** A progress callback for runFleet that redraws one line on `stream` if it is a terminal. */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): {
  update(s: FleetSnapshot): void;
  end(): void;
} {
  let drawn = false;
  return {
    update(s) {
      if (!stream.isTTY) return;
      stream.write(`\r\x1b[2K${progressLine(s)}`);
      drawn = true;
    },
    end() {
      if (drawn) stream.write('\n');
    },
  };
}
