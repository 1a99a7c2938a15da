/**
 * Which of two firmware versions is older: what OTA anti-rollback asks (device/extensions/ota.ts).
 * Semantic Versioning 2.0's precedence, widened to the versions payspeaker accepts (1-64 letters,
 * digits, ".", "+", "_", "-"; VERSION_PATTERN below):
 *
 *   - a leading "v" is dropped: v1.2.0 is 1.2.0;
 *   - build metadata, from the first "+", is ignored (1.2.0+20260101 and 1.2.0+20260202 are
 *     the same release line, neither older);
 *   - a pre-release, from the first "-" after that, ranks below its release: 1.2.0-rc.1 < 1.2.0;
 *   - the rest is split at "."; any number of segments, a missing one counts as 0 (1.2 = 1.2.0);
 *   - in the release and the pre-release alike, two all-digit segments compare as numbers
 *     (1.10.0 > 1.9.0, leading zeros ignored), two other segments compare as ASCII text
 *     ("beta" > "alpha", "_" and letters included), and an all-digit segment ranks below a
 *     non-numeric one (as semver orders pre-release identifiers: 1.0.0-2 < 1.0.0-alpha);
 *   - pre-releases with equal leading segments: the one with fewer segments is older
 *     (1.0.0-alpha < 1.0.0-alpha.1).
 */

/** A firmware version as payspeaker accepts it: 1-64 letters, digits, ".", "+", "_", "-", starting with a letter or digit. */
export const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;

/** Negative if `a` is older than `b`, 0 if they rank the same, positive if `a` is newer. */
export function compareVersions(a: string, b: string): number {
  const x = split(a);
  const y = split(b);
  const core = compareSegments(x.core, y.core, true);
  if (core !== 0) return core;
  if (x.pre === null || y.pre === null) return x.pre === y.pre ? 0 : x.pre === null ? 1 : -1;
  return compareSegments(x.pre, y.pre, false);
}

/** True if `candidate` ranks strictly below `running`: installing it would be a downgrade. */
export function isOlderVersion(candidate: string, running: string): boolean {
  return compareVersions(candidate, running) < 0;
}

function split(version: string): { core: string[]; pre: string[] | null } {
  const withoutBuild = version.replace(/^[vV](?=\d)/, '').split('+')[0]!;
  const dash = withoutBuild.indexOf('-');
  const core = dash < 0 ? withoutBuild : withoutBuild.slice(0, dash);
  const pre = dash < 0 ? null : withoutBuild.slice(dash + 1);
  return { core: core.split('.'), pre: pre === null ? null : pre.split('.') };
}

/** Segment by segment; `padWithZero`: a missing release segment counts as 0 (pre-releases: shorter is older). */
function compareSegments(a: string[], b: string[], padWithZero: boolean): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const [p, q] = [a[i], b[i]];
    if (p === undefined || q === undefined) {
      if (!padWithZero) return p === undefined ? -1 : 1;
    }
    const c = compareSegment(p ?? '0', q ?? '0');
    if (c !== 0) return c;
  }
  return 0;
}

function compareSegment(p: string, q: string): number {
  const pNum = /^\d+$/.test(p);
  const qNum = /^\d+$/.test(q);
  if (pNum && qNum) {
    // BigInt: a segment may be longer than a safe integer (a date-time stamp).
    const [x, y] = [BigInt(p), BigInt(q)];
    return x === y ? 0 : x < y ? -1 : 1;
  }
  if (pNum !== qNum) return pNum ? -1 : 1;
  return p === q ? 0 : p < q ? -1 : 1;
}
