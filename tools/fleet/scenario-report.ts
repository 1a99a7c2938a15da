/**
 * What a scenario's run showed, phase by phase and group by group, and whether it kept its
 * promises (`expect:` in the file): nothing lost or heard twice beyond what it allows, each
 * ramp heard at its final rate, every payment sent to an offline speaker heard once it came
 * back. Worked out from the tally after the run: which payment went where, when it was due,
 * when it was first heard.
 */
import { newHistogram, summarizeHistogram, type LatencySummary } from './histogram.ts';
import type { Group, NetworkEvent } from './network.ts';
import type { Scenario } from './scenario.ts';
import type { Tally } from './tally.ts';

export interface PhaseReport {
  name: string;
  durationS: number;
  /** Payments per second asked for at the phase's start and end (equal: a constant rate). */
  fromRate: number;
  toRate: number;
  sent: number;
  heard: number;
  /** Payments first heard per second over the phase's last seconds: the rate a ramp reached. */
  heardPerSecondAtEnd: number;
  /** What the schedule asked for over the same seconds (a ramp's average there, not its peak). */
  askedPerSecondAtEnd: number;
  /** Creation → PCM ready of the phase's payments, ms (corrected for coordinated omission). */
  latency: LatencySummary;
}

export interface GroupReport extends NetworkEvent {
  /** Payments sent to the group's speakers over the whole run, and how many were heard. */
  sent: number;
  heard: number;
  /** Offline: due while the speakers were away; heard (after they came back); seconds after the end of the outage the last was heard. */
  whileAway?: { sent: number; heard: number; caughtUpAfterS: number | null };
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioReport {
  name: string;
  file: string;
  description: string | null;
  phases: PhaseReport[];
  groups: GroupReport[];
  buttons: { pressed: Record<string, number>; answered: number };
  checks: Check[];
}

export interface ScenarioRun {
  scenario: Scenario;
  tally: Tally;
  /** Epoch ms when sending started: phase and event times count from here. */
  startedAt: number;
  deviceOfSeq: (seq: number) => number;
  groups: Group[];
  events: NetworkEvent[];
  pressed: Record<string, number>;
  buttonsAnswered: number;
}

/** How much of a phase's end is measured for the rate it reached: long enough to smooth a 1 ms scheduler. */
const END_WINDOW_MS = 2000;

export function scenarioReport(run: ScenarioRun): ScenarioReport {
  const { scenario: s, tally } = run;
  const phases = s.schedule.phases.map((p, i) => phaseReport(run, i, p));
  const groups = run.groups.map((g, i) => groupReport(run, g, run.events[i]!));
  const checks: Check[] = [];
  const lost = tally.sent - tally.heard;
  checks.push({
    name: 'lost',
    ok: lost <= s.expect.lost,
    detail: `${lost} of ${tally.sent} payments not heard (at most ${s.expect.lost} allowed)`,
  });
  checks.push({
    name: 'heard twice',
    ok: tally.duplicates <= s.expect.duplicates,
    detail: `${tally.duplicates} payments heard twice (at most ${s.expect.duplicates} allowed)`,
  });
  if (s.expect.rampReached !== undefined) {
    for (const p of phases.filter((p) => p.fromRate !== p.toRate)) {
      // Compared with what was asked over the same seconds, so the window's length does not matter.
      const want = s.expect.rampReached * p.askedPerSecondAtEnd;
      checks.push({
        name: `ramp "${p.name}" reached its rate`,
        ok: p.heardPerSecondAtEnd >= want,
        detail: `heard ${p.heardPerSecondAtEnd}/s over its last ${round(Math.min(END_WINDOW_MS, p.durationS * 1000) / 1000, 2)} s, ${p.askedPerSecondAtEnd}/s asked there on the way to ${p.toRate}/s (at least ${round(want)}/s wanted)`,
      });
    }
  }
  if (s.expect.offlineCaughtUp) {
    groups.forEach((g, i) => {
      if (!g.whileAway) return;
      const w = g.whileAway;
      checks.push({
        name: `offline[${i}] caught up`,
        ok: w.heard === w.sent,
        detail: `${w.heard} of ${w.sent} payments due while ${g.devices} speakers were away were heard after they came back${w.caughtUpAfterS === null ? '' : `, the last ${w.caughtUpAfterS} s after the outage ended`}`,
      });
    });
  }
  return {
    name: s.name,
    file: s.file,
    description: s.description ?? null,
    phases,
    groups,
    buttons: { pressed: run.pressed, answered: run.buttonsAnswered },
    checks,
  };
}

function phaseReport(run: ScenarioRun, index: number, p: Scenario['schedule']['phases'][number]): PhaseReport {
  const { tally, startedAt } = run;
  const start = startedAt + p.startMs;
  const end = start + p.durationMs;
  const window = Math.min(END_WINDOW_MS, p.durationMs);
  const h = newHistogram();
  let sent = 0;
  let heard = 0;
  let heardAtEnd = 0;
  for (let seq = 0; seq < tally.sent; seq++) {
    const e = tally.entry(seq);
    if (e.firstHeard >= end - window && e.firstHeard <= end) heardAtEnd += 1;
    if (run.scenario.schedule.phaseIndexOfSeq(seq) !== index) continue;
    sent += 1;
    if (e.times === 0) continue;
    heard += 1;
    h.recordValue(Math.max(0, Math.round((e.firstHeard - e.intended) * 1000)));
  }
  return {
    name: p.name,
    durationS: p.durationMs / 1000,
    fromRate: p.from,
    toRate: p.to,
    sent,
    heard,
    heardPerSecondAtEnd: round(heardAtEnd / (window / 1000)),
    askedPerSecondAtEnd: round(
      (run.scenario.schedule.cumulative(p.startMs + p.durationMs) -
        run.scenario.schedule.cumulative(p.startMs + p.durationMs - window)) /
        (window / 1000),
    ),
    latency: summarizeHistogram(h),
  };
}

function groupReport(run: ScenarioRun, g: Group, event: NetworkEvent): GroupReport {
  const { tally, startedAt } = run;
  const members = new Set(g.devices);
  const away =
    g.spec.kind === 'offline' ? { from: startedAt + g.spec.atMs, to: startedAt + g.spec.atMs + g.spec.forMs } : null;
  let sent = 0;
  let heard = 0;
  const w = { sent: 0, heard: 0, last: -Infinity };
  for (let seq = 0; seq < tally.sent; seq++) {
    if (!members.has(run.deviceOfSeq(seq))) continue;
    const e = tally.entry(seq);
    sent += 1;
    if (e.times > 0) heard += 1;
    if (away && e.intended >= away.from && e.intended < away.to) {
      w.sent += 1;
      if (e.times > 0) {
        w.heard += 1;
        w.last = Math.max(w.last, e.firstHeard);
      }
    }
  }
  return {
    ...event,
    sent,
    heard,
    ...(away && {
      whileAway: {
        sent: w.sent,
        heard: w.heard,
        caughtUpAfterS: Number.isFinite(w.last) ? round((w.last - away.to) / 1000, 2) : null,
      },
    }),
  };
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
