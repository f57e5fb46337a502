/** Learning-rate schedules: ReduceLROnPlateau (the reference's), multistep, cosine, constant. */
import { UserError } from '../util/errors';

export const SCHEDULES = ['plateau', 'multistep', 'cosine', 'constant'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

export interface ScheduleConfig {
  name: ScheduleName;
  /** plateau: epochs without improvement before reducing (reference: 2). */
  patience: number;
  /** plateau / multistep: multiplier (reference: 0.5). */
  factor: number;
  /** multistep: epochs at which lr is multiplied by factor (reference: 45, 60). */
  milestones: number[];
  /** cosine: total epochs. */
  epochs: number;
  minLr: number;
}

export function defaultScheduleConfig(name: ScheduleName, partial: Partial<ScheduleConfig> = {}): ScheduleConfig {
  if (!SCHEDULES.includes(name)) throw new UserError(`unknown schedule '${name}': expected one of ${SCHEDULES.join(', ')}`);
  return { name, patience: 2, factor: 0.5, milestones: [45, 60], epochs: 1, minLr: 0, ...partial };
}

/** Stateful schedule; `afterEpoch` returns the lr for the next epoch. State is JSON (saved in checkpoints). */
export class LrSchedule {
  best = Infinity;
  badEpochs = 0;

  constructor(readonly config: ScheduleConfig, readonly baseLr: number) {}

  /** `epoch` is the number of epochs finished (1-based); `metric` is the monitored loss (lower is better). */
  afterEpoch(epoch: number, lr: number, metric: number): number {
    const c = this.config;
    switch (c.name) {
      case 'constant':
        return lr;
      case 'multistep':
        return c.milestones.includes(epoch) ? lr * c.factor : lr;
      case 'cosine':
        return c.minLr + 0.5 * (this.baseLr - c.minLr) * (1 + Math.cos((Math.PI * Math.min(epoch, c.epochs)) / c.epochs));
      case 'plateau': {
        // PyTorch ReduceLROnPlateau, mode 'min', threshold 1e-4 relative.
        if (metric < this.best * (1 - 1e-4)) {
          this.best = metric;
          this.badEpochs = 0;
          return lr;
        }
        this.badEpochs += 1;
        if (this.badEpochs > c.patience) {
          this.badEpochs = 0;
          return Math.max(c.minLr, lr * c.factor);
        }
        return lr;
      }
    }
  }

  state(): { best: number | null; badEpochs: number } {
    return { best: Number.isFinite(this.best) ? this.best : null, badEpochs: this.badEpochs };
  }

  restore(s: { best: number | null; badEpochs: number }): void {
    this.best = s.best ?? Infinity;
    this.badEpochs = s.badEpochs;
  }
}
