/**
 * A scenario's button presses: merchants pressing replay, summary or volume on their boxes, at
 * a rate across the fleet, on speakers drawn by seed. The press reaches the speaker's board in
 * its worker (pool.press), so it runs the same firmware path as a finger on the real button.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { ButtonName } from './scenario.ts';

export interface ButtonPlan {
  press: ButtonName;
  /** Presses per second across the fleet. */
  rate: number;
}

export class ButtonPresser {
  private readonly timers: NodeJS.Timeout[] = [];
  readonly pressed: Record<string, number> = {};

  constructor(
    private readonly plans: readonly ButtonPlan[],
    private readonly devices: number,
    private readonly seed: number,
    private readonly press: (device: number, button: ButtonName) => void,
  ) {}

  /** Presses at each plan's rate until stop(). */
  begin(): void {
    this.plans.forEach((plan, i) => {
      const rng = xoroshiro128plus(this.seed + 101 * (i + 1));
      this.timers.push(
        setInterval(() => {
          this.press(uniformInt(rng, 0, this.devices - 1), plan.press);
          this.pressed[plan.press] = (this.pressed[plan.press] ?? 0) + 1;
        }, 1000 / plan.rate),
      );
    });
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }
}
