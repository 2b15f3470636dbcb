// What each run mode (METHOD.md, "Ablations") shows the self-judge: the one place a mode's
// behaviour is declared; the phases read this table and never test a mode's name.
import type { RunMode } from '../../shared/types';

export interface JudgeView {
  /** The visual context beside the pair: refined from the round before (c_{t-1} -> c_t), written
   *  afresh every round, or none (then no context is generated either). */
  context: 'refined' | 'fresh' | 'none';
  /** Whether the judge sees the video's frames (and so whether its attention is recorded). */
  video: boolean;
}

export const judgeViews: Record<RunMode, JudgeView> = {
  isr: { context: 'refined', video: true },
  'no-retrospect': { context: 'fresh', video: true },
  'no-context': { context: 'none', video: true },
  'text-judge': { context: 'none', video: false },
};
