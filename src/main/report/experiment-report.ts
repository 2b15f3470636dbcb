// REPORT.md and its PNG charts for an ablation study: how it was run (command, commit, machine,
// time), the figures per round per mode, and each of the paper's two claims checked against them,
// with the sampling error stated, so a reader sees whether a difference is more than noise.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Series } from '../../shared/chart';
import type { ModeFigures, RoundFigures } from '../isr/experiment';
import type { RunMode } from '../../shared/types';
import { meanInterval, type Interval } from './statistics';
import type { RunSettings } from '../isr/settings';
import { lineChartPng } from './line-chart';

export interface ExperimentMeta {
  command: string;
  /** The code each invocation of the study ran on, in order (one entry unless it was resumed on other code); null outside git. */
  code: ({ commit: string; dirty: boolean } | null)[];
  machine: string;
  runtime: string;
  date: string;
  /** Wall-clock seconds per mode (summed over resumptions) and in all. */
  seconds: Record<string, number>;
  totalSeconds: number;
  data: { dir: string; trainQuestions: number; testQuestions: number };
  model: { dir: string; family: string; warmStart: string | null };
  rounds: number;
  settings: RunSettings;
}

interface Chart {
  file: string;
  title: string;
  metric: (r: RoundFigures) => number | null;
  format: 'number' | 'percent';
  fromRound: 0 | 1;
}

const charts: Chart[] = [
  { file: 'accuracy.png', title: 'held-out accuracy', metric: (r) => r.accuracy, format: 'percent', fromRound: 0 },
  { file: 'answer-length.png', title: 'mean held-out answer length (words)', metric: (r) => r.meanWords, format: 'number', fromRound: 0 },
  { file: 'judge-accuracy.png', title: 'judge accuracy where ground truth decides', metric: (r) => r.judgeAccuracy, format: 'percent', fromRound: 1 },
  { file: 'visual-share.png', title: "judge's attention on visual tokens", metric: (r) => r.visualShare, format: 'percent', fromRound: 1 },
];

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);
const num = (x: number | null, digits = 2) => (x === null ? '–' : x.toFixed(digits));
const duration = (s: number) => (s >= 90 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);

/** One mode's rounds over all its seeds: counts summed, rates averaged over the seeds that have them. */
export interface PooledMode {
  mode: RunMode;
  seeds: number[];
  rounds: RoundFigures[];
}

const meanOf = (xs: readonly (number | null)[]): number | null => {
  const known = xs.filter((x): x is number => x !== null);
  return known.length === 0 ? null : known.reduce((s, x) => s + x, 0) / known.length;
};

function poolRound(round: number, rs: readonly RoundFigures[]): RoundFigures {
  const sum = (key: 'pairs' | 'ties' | 'decided' | 'judgeRight' | 'judgeTies' | 'leanRight' | 'leaning') => rs.reduce((s, r) => s + r[key], 0);
  const [decided, judgeRight, judgeTies] = [sum('decided'), sum('judgeRight'), sum('judgeTies')];
  return {
    round, accuracy: meanOf(rs.map((r) => r.accuracy)), meanWords: meanOf(rs.map((r) => r.meanWords)), responseWords: meanOf(rs.map((r) => r.responseWords)),
    pairs: sum('pairs'), ties: sum('ties'), decided, judgeRight, judgeTies,
    judgeAccuracy: decided - judgeTies === 0 ? null : judgeRight / (decided - judgeTies),
    leanRight: sum('leanRight'), leaning: sum('leaning'),
    preferLonger: meanOf(rs.map((r) => r.preferLonger)), visualShare: meanOf(rs.map((r) => r.visualShare)),
  };
}

/** The study's runs grouped by mode (in the order the modes first appear), each mode's seeds pooled round by round. */
export function pooledModes(figures: readonly ModeFigures[]): PooledMode[] {
  const modes = [...new Set(figures.map((f) => f.mode))];
  return modes.map((mode) => {
    const runs = figures.filter((f) => f.mode === mode);
    const rounds = [...new Set(runs.flatMap((f) => f.rounds.map((r) => r.round)))].sort((x, y) => x - y);
    return { mode, seeds: runs.map((f) => f.seed), rounds: rounds.map((t) => poolRound(t, runs.flatMap((f) => f.rounds.filter((r) => r.round === t)))) };
  });
}

function table(modes: readonly PooledMode[], cell: (r: RoundFigures) => string, fromRound: number): string[] {
  const rounds = [...new Set(modes.flatMap((f) => f.rounds.map((r) => r.round)))].filter((r) => r >= fromRound).sort((a, b) => a - b);
  return [
    `| round | ${modes.map((f) => f.mode).join(' | ')} |`,
    `|---|${modes.map(() => '---|').join('')}`,
    ...rounds.map((t) => `| ${t} | ${modes.map((f) => {
      const r = f.rounds.find((x) => x.round === t);
      return r ? cell(r) : '–';
    }).join(' | ')} |`),
  ];
}

/** Judge accuracy pooled over a run's rounds: right / decided (ties left out); null when it decided none. */
function pooledJudge(f: ModeFigures): number | null {
  const { right, n } = f.rounds.reduce((s, r) => ({ right: s.right + r.judgeRight, n: s.n + r.decided - r.judgeTies }), { right: 0, n: 0 });
  return n === 0 ? null : right / n;
}

/** Change of the mean held-out answer length (words) from the start to a run's last round. */
function growth(f: ModeFigures): number | null {
  const [first, last] = [f.rounds.find((r) => r.round === 0) ?? f.rounds[0], f.rounds.at(-1)];
  return first?.meanWords == null || last?.meanWords == null ? null : last.meanWords - first.meanWords;
}

export type Verdict = 'reproduced' | 'not reproduced' | 'not decidable at this size';

/**
 * The decision rule, fixed before any study ran (docs/experiments/README.md): each claim's effect is
 * computed per seed and decided by its mean's 95% t interval across seeds. Claim 1's effect is isr's
 * judge accuracy minus text-judge's; claim 2's is how much more text-judge's answers grew than isr's,
 * which presumes text-judge's answers grew (the drift the claim is about).
 */
export const decisionRule = {
  /** The smallest effects that would matter: 5 points of judge accuracy, half a word of answer length. */
  judgeMargin: 0.05,
  lengthMargin: 0.5,
  text: 'reproduced when the 95% interval of the effect across seeds lies above 0 (for claim 2, and text-judge\'s own growth too); ' +
    'not reproduced when it lies below the smallest effect that would matter (5 points of judge accuracy; half a word, with text-judge\'s growth above 0); ' +
    'otherwise, or with fewer than two seeds, not decidable at this size',
};

export function judgeVerdict(effect: Interval | null): Verdict {
  if (effect === null || effect.low === null || effect.high === null) return 'not decidable at this size';
  if (effect.low > 0) return 'reproduced';
  return effect.high < decisionRule.judgeMargin ? 'not reproduced' : 'not decidable at this size';
}

export function lengthVerdict(effect: Interval | null, drift: Interval | null): Verdict {
  if (effect === null || drift === null || effect.low === null || effect.high === null || drift.low === null) return 'not decidable at this size';
  if (!(drift.low > 0)) return 'not decidable at this size';
  if (effect.low > 0) return 'reproduced';
  return effect.high < decisionRule.lengthMargin ? 'not reproduced' : 'not decidable at this size';
}

/** The per-seed values of a paired difference of two modes' runs (seeds both ran), with their interval. */
function pairedEffect(isr: readonly ModeFigures[], text: readonly ModeFigures[], value: (f: ModeFigures) => number | null, sign: 1 | -1) {
  const perSeed = isr.flatMap((a) => {
    const b = text.find((f) => f.seed === a.seed);
    const [x, y] = [value(a), b === undefined ? null : value(b)];
    return x === null || y === null ? [] : [{ seed: a.seed, effect: sign * (x - y) }];
  });
  return { perSeed, interval: meanInterval(perSeed.map((p) => p.effect)) };
}

const interval = (i: Interval | null, show: (x: number) => string) =>
  i === null ? '–' : i.low === null || i.high === null ? `${show(i.mean)} (one seed: no interval)` : `${show(i.mean)} [${show(i.low)}, ${show(i.high)}]`;
const points = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} points`;
const wordsText = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} words`;

/** The claims section: each of the paper's two claims with its effect across seeds and verdict. */
export function claims(figures: readonly ModeFigures[]): { lines: string[]; verdicts: string[] } {
  const isr = figures.filter((f) => f.mode === 'isr');
  const text = figures.filter((f) => f.mode === 'text-judge');
  const lines = ['## The claims, checked', ''];
  if (isr.length === 0 || text.length === 0) {
    const line = 'Both claims compare mode isr with mode text-judge; this study did not run both, so neither is checked.';
    return { lines: [...lines, line, ''], verdicts: [line] };
  }
  const judge = pairedEffect(isr, text, pooledJudge, 1);
  const length = pairedEffect(isr, text, growth, -1);
  const drift = meanInterval(text.flatMap((f) => { const g = growth(f); return g === null ? [] : [g]; }));
  const [v1, v2] = [judgeVerdict(judge.interval), lengthVerdict(length.interval, drift)];
  const seeds = (p: { seed: number; effect: number }[], show: (x: number) => string) => p.map((x) => `seed ${x.seed} ${show(x.effect)}`).join(', ');
  const claim1 = `1. **A judge grounded by a retrospective visual context picks better preferences than a language-only judge.** ` +
    `Effect: isr's judge accuracy minus text-judge's, on pairs where exactly one response is right, pooled over each seed's rounds (ties left out): ` +
    `${interval(judge.interval, points)} across ${judge.perSeed.length} seed(s) (${seeds(judge.perSeed, points) || 'none decided'}). Verdict: **${v1}**.`;
  const claim2 = `2. **It stops the drift toward long answers over rounds.** ` +
    `Effect: the growth of text-judge's mean held-out answer length minus isr's, from the start to the last round: ${interval(length.interval, wordsText)} ` +
    `(${seeds(length.perSeed, wordsText) || 'no answers'}); text-judge's own growth ${interval(drift, wordsText)}. ` +
    `Share of the judge's non-tie verdicts on pairs of unequal length that chose the longer, averaged over rounds and seeds: isr ${pct(meanOf(isr.map(meanPreferLonger)))}, text-judge ${pct(meanOf(text.map(meanPreferLonger)))}. Verdict: **${v2}**.`;
  lines.push(claim1, claim2, '', `The rule, fixed before the run: ${decisionRule.text}. Intervals are 95% t intervals of the mean across seeds.`, '');
  return { lines, verdicts: [claim1, claim2].map((l) => l.replace(/\*\*/g, '')) };
}

function meanPreferLonger(f: ModeFigures): number | null {
  return meanOf(f.rounds.map((r) => r.preferLonger));
}

/** Writes REPORT.md and the charts into `dir`; returns the files written. */
export function writeExperimentReport(dir: string, figures: readonly ModeFigures[], meta: ExperimentMeta): string[] {
  const modes = pooledModes(figures);
  const seeds = [...new Set(figures.map((f) => f.seed))];
  for (const c of charts) {
    const series: Series[] = modes.map((f) => ({ label: f.mode, points: f.rounds.filter((r) => r.round >= c.fromRound).map((r) => ({ x: r.round, y: c.metric(r) })) }));
    writeFileSync(join(dir, c.file), lineChartPng({ title: c.title, xLabel: 'round', series, yFormat: c.format }));
  }
  const md = [
    '# ISR-DPO ablation study',
    '',
    `Modes ${modes.map((f) => f.mode).join(', ')}, each run for ${meta.rounds} round(s) from the same starting policy once per seed (${seeds.join(', ')}); ` +
      "the runs of one seed sample the same responses in round 1, so each seed's round 1 judges the same pairs in every mode (METHOD.md describes the modes). " +
      `The tables below pool the seeds: counts summed, rates and means averaged over the ${seeds.length} seed(s).`,
    '',
    '## How it was run',
    '',
    `- Command: \`${meta.command}\``,
    `- Commit: ${meta.code.map((c) => (c === null ? 'unknown (not a git checkout)' : `\`${c.commit}\`${c.dirty ? ' with uncommitted changes' : ''}`)).join(', resumed on ')}`,
    `- Machine: ${meta.machine}; ${meta.runtime}`,
    `- Date: ${meta.date}`,
    `- Time: ${duration(meta.totalSeconds)} in all (${Object.entries(meta.seconds).map(([m, s]) => `${m} ${duration(s)}`).join(', ')})`,
    `- Data: ${meta.data.dir} (${meta.data.trainQuestions} training questions, ${meta.data.testQuestions} held-out)`,
    `- Starting policy: ${meta.model.dir} (${meta.model.family})${meta.model.warmStart ? `; ${meta.model.warmStart}` : ''}`,
    `- Settings: \`${JSON.stringify(meta.settings)}\`, each run with its own seed (${seeds.join(', ')}) in place of \`seed\``,
    '',
    ...claims(figures).lines,
    '## Held-out accuracy (normalised exact match)',
    '',
    '![held-out accuracy](accuracy.png)',
    '',
    ...table(modes, (r) => pct(r.accuracy), 0),
    '',
    '## Response length',
    '',
    '![mean held-out answer length](answer-length.png)',
    '',
    'Held-out answers, mean words:',
    '',
    ...table(modes, (r) => num(r.meanWords), 0),
    '',
    "Responses the round's policy sampled for training, mean words:",
    '',
    ...table(modes, (r) => num(r.responseWords), 1),
    '',
    '## The judge against ground truth',
    '',
    '![judge accuracy](judge-accuracy.png)',
    '',
    'A pair is decided by ground truth when exactly one of its two responses is right (normalised exact match of its first word or whole text). ' +
      'Judge accuracy is the share of those the judge chose right, ties (inside the tie band) left out; each cell reads accuracy (right / judged; how many of the decided pairs it tied).',
    '',
    ...table(modes, (r) => `${pct(r.judgeAccuracy)} (${r.judgeRight}/${r.decided - r.judgeTies}; ${r.judgeTies} of ${r.decided} tied)`, 1),
    '',
    "The judge's lean, the tie band set aside: of the same decided pairs, the share whose p(A) (both orders averaged) lies on the right response's side of 0.5; " +
      'a judge whose probabilities crowd 0.5 can lean right more often than chance while deciding almost nothing. Each cell reads share (right / leaning).',
    '',
    ...table(modes, (r) => `${pct(r.leaning ? r.leanRight / r.leaning : null)} (${r.leanRight}/${r.leaning})`, 1),
    '',
    'Of the pairs the judge did not call a tie whose two responses differ in length, the share where it chose the longer (any pair, right or wrong):',
    '',
    ...table(modes, (r) => pct(r.preferLonger), 1),
    '',
    'Pairs trained on (ties left out):',
    '',
    ...table(modes, (r) => `${r.pairs} (${r.ties} ties)`, 1),
    '',
    "## The judge's visual attention",
    '',
    '![visual attention share](visual-share.png)',
    '',
    "Mean share of the verdict token's attention (heads and the later half of the layers averaged) on the video's tokens; text-judge sees no video.",
    '',
    ...table(modes, (r) => pct(r.visualShare), 1),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'REPORT.md'), md);
  return ['REPORT.md', ...charts.map((c) => c.file)];
}
