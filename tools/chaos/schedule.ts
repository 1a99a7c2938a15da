/**
 * Schedule mode: a list of faults at fixed times from the proxy's start, written as JSON so
 * a test run or a demo can be replayed exactly:
 *
 *   [{ "atMs": 2000, "fault": "blackhole", "durationMs": 5000, "target": "all" },
 *    { "atMs": 9000, "fault": "reset", "target": "one" }]
 */
import type { Timers } from './clock.ts';
import { FAULT_KINDS, type Fault, type FaultKind } from './faults.ts';

export interface ScheduleStep {
  /** When, in ms from the proxy's start. */
  atMs: number;
  fault: FaultKind;
  /** Every live connection (default), or one picked at random (seeded). Not for `refuse`. */
  target?: 'all' | 'one';
  /** blackhole, delay, refuse: how long it lasts (default: until something ends it). */
  durationMs?: number;
  /** delay: the added latency. */
  delayMs?: number;
  /** delay: up to this much more, drawn per chunk. */
  jitterMs?: number;
}

/** A schedule that cannot be run; the message names the step and the field. */
export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

const KEYS = new Set(['atMs', 'fault', 'target', 'durationMs', 'delayMs', 'jitterMs']);

/** Checks parsed JSON (or a caller's array) step by step, so a typo is caught before the run starts. */
export function parseSchedule(value: unknown): ScheduleStep[] {
  if (!Array.isArray(value))
    throw new ScheduleError(
      `a schedule is a JSON array of steps like {"atMs": 1000, "fault": "reset"}, got ${describe(value)}`,
    );
  return value.map((raw, i) => parseStep(raw, `step ${i + 1}`));
}

function parseStep(raw: unknown, where: string): ScheduleStep {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ScheduleError(`${where} must be an object like {"atMs": 1000, "fault": "reset"}, got ${describe(raw)}`);
  const step = raw as Record<string, unknown>;
  const unknown = Object.keys(step).filter((k) => !KEYS.has(k));
  if (unknown.length > 0)
    throw new ScheduleError(
      `${where} has unknown field ${unknown.map((k) => `"${k}"`).join(', ')}: the fields are ${[...KEYS].join(', ')}`,
    );
  if (!FAULT_KINDS.includes(step.fault as FaultKind))
    throw new ScheduleError(`${where}: "fault" must be one of ${FAULT_KINDS.join(', ')}, got ${describe(step.fault)}`);
  const fault = step.fault as FaultKind;
  const ms = (key: string, required: boolean, min: number) => {
    const v = step[key];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
      throw new ScheduleError(
        `${where}: "${key}" must be a number of milliseconds of at least ${min}, got ${describe(v)}`,
      );
    return v;
  };
  const parsed: ScheduleStep = { atMs: ms('atMs', true, 0)!, fault };
  if (step.target !== undefined) {
    if (step.target !== 'all' && step.target !== 'one')
      throw new ScheduleError(`${where}: "target" must be "all" or "one", got ${describe(step.target)}`);
    if (fault === 'refuse' && step.target === 'one')
      throw new ScheduleError(`${where}: refuse stops the listener, it has no connection to pick: leave "target" out`);
    parsed.target = step.target;
  }
  if (fault === 'reset' || fault === 'drop') {
    if (step.durationMs !== undefined)
      throw new ScheduleError(`${where}: a ${fault} is instant and has no "durationMs": leave it out`);
  } else parsed.durationMs = ms('durationMs', false, 1);
  if (fault === 'delay') {
    parsed.delayMs = ms('delayMs', true, 0);
    parsed.jitterMs = ms('jitterMs', false, 0);
  } else if (step.delayMs !== undefined || step.jitterMs !== undefined) {
    throw new ScheduleError(`${where}: "delayMs" and "jitterMs" belong to a delay step, not to ${fault}`);
  }
  return parsed;
}

export function stepFault(step: ScheduleStep): Fault {
  switch (step.fault) {
    case 'reset':
    case 'drop':
      return { kind: step.fault };
    case 'delay':
      return { kind: 'delay', delayMs: step.delayMs ?? 0, jitterMs: step.jitterMs, durationMs: step.durationMs };
    default:
      return { kind: step.fault, durationMs: step.durationMs };
  }
}

/** Arms a timer per step; `timers.cancelAll()` (the proxy's close) cancels the rest. */
export function runSchedule(
  steps: readonly ScheduleStep[],
  timers: Timers,
  strike: (fault: Fault, target: 'all' | 'one') => void,
): void {
  for (const step of steps) timers.after(step.atMs, () => strike(stepFault(step), step.target ?? 'all'));
}

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}
