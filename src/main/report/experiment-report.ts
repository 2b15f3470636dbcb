// REPORT.md and its PNG charts for an ablation study: how it was run (command, commit, machine,
// time), the figures per round per mode, and each of the paper's two claims checked against them,
// with the sampling error stated, so a reader sees whether a difference is more than noise.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Series } from '../../shared/chart';
import type { ModeFigures, RoundFigures } from '../isr/experiment';
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
const signed = (x: number | null) => (x === null ? '–' : `${x >= 0 ? '+' : ''}${x.toFixed(2)}`);
const duration = (s: number) => (s >= 90 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);

function table(figures: readonly ModeFigures[], cell: (r: RoundFigures) => string, fromRound: number): string[] {
  const rounds = [...new Set(figures.flatMap((f) => f.rounds.map((r) => r.round)))].filter((r) => r >= fromRound).sort((a, b) => a - b);
  return [
    `| round | ${figures.map((f) => f.mode).join(' | ')} |`,
    `|---|${figures.map(() => '---|').join('')}`,
    ...rounds.map((t) => `| ${t} | ${figures.map((f) => {
      const r = f.rounds.find((x) => x.round === t);
      return r ? cell(r) : '–';
    }).join(' | ')} |`),
  ];
}

/** Judge accuracy pooled over a run's rounds: right / decided (ties left out). */
function pooledJudge(f: ModeFigures): { right: number; n: number } {
  return f.rounds.reduce((s, r) => ({ right: s.right + r.judgeRight, n: s.n + r.decided - r.judgeTies }), { right: 0, n: 0 });
}

/** The judge's lean pooled over a run's rounds: right / leaning, the tie band set aside. */
function pooledLean(f: ModeFigures): { right: number; n: number } {
  return f.rounds.reduce((s, r) => ({ right: s.right + r.leanRight, n: s.n + r.leaning }), { right: 0, n: 0 });
}

const zText = (z: number | null) => (z === null ? '–' : z.toFixed(2));

/** Two-proportion z statistic: |z| < 2 means the difference is within sampling noise (95%). */
function zOf(a: { right: number; n: number }, b: { right: number; n: number }): number | null {
  if (a.n === 0 || b.n === 0) return null;
  const p = (a.right + b.right) / (a.n + b.n);
  const se = Math.sqrt(p * (1 - p) * (1 / a.n + 1 / b.n));
  return se === 0 ? null : (a.right / a.n - b.right / b.n) / se;
}

/** The claims section: each of the paper's two claims with its figures and verdict. */
export function claims(figures: readonly ModeFigures[]): string[] {
  const isr = figures.find((f) => f.mode === 'isr');
  const text = figures.find((f) => f.mode === 'text-judge');
  const lines = ['## The claims, checked', ''];
  if (!isr || !text) return [...lines, 'Both claims compare mode isr with mode text-judge; this study did not run both, so neither is checked.', ''];

  const [a, b] = [pooledJudge(isr), pooledJudge(text)];
  const z = zOf(a, b);
  const [la, lb] = [pooledLean(isr), pooledLean(text)];
  const judgeVerdict = z === null ? 'cannot be checked: one of the judges decided no pair that ground truth decides'
    : z >= 2 ? 'reproduced' : z > 0 ? 'not shown: isr is ahead, but within sampling noise' : 'did not reproduce';
  lines.push(
    `1. **A judge grounded by a retrospective visual context picks better preferences than a language-only judge.** ` +
      `Pooled over the rounds, on pairs where exactly one response is right: isr ${pct(a.n ? a.right / a.n : null)} of ${a.n}, ` +
      `text-judge ${pct(b.n ? b.right / b.n : null)} of ${b.n} (z = ${zText(z)}). Verdict: ${judgeVerdict}. ` +
      `With the tie band set aside, the side of 0.5 its p(A) leans to is right for isr ${pct(la.n ? la.right / la.n : null)} of ${la.n} ` +
      `and text-judge ${pct(lb.n ? lb.right / lb.n : null)} of ${lb.n} (z = ${zText(zOf(la, lb))}); the verdict rests on the preferences the rounds trained on, not on this.`,
  );
  const growth = (f: ModeFigures) => {
    const [first, last] = [f.rounds.find((r) => r.round === 0) ?? f.rounds[0], f.rounds.at(-1)];
    return first?.meanWords == null || last?.meanWords == null ? null : last.meanWords - first.meanWords;
  };
  const [gi, gt] = [growth(isr), growth(text)];
  const lengthVerdict = gi === null || gt === null ? 'cannot be checked: a run has no held-out answers'
    : gt > gi && gt > 0 ? 'reproduced' : gt <= 0 ? 'not shown: the language-only judge did not make answers longer here' : 'did not reproduce';
  lines.push(
    `2. **It stops the drift toward long answers over rounds.** Change of the mean held-out answer length from the start to the last round: ` +
      `isr ${signed(gi)} words, text-judge ${signed(gt)} words. ` +
      `Share of the judge's non-tie verdicts on pairs of unequal length that chose the longer response, averaged over rounds: isr ${pct(meanPreferLonger(isr))}, text-judge ${pct(meanPreferLonger(text))}. Verdict: ${lengthVerdict}.`,
    '',
  );
  return lines;
}

function meanPreferLonger(f: ModeFigures): number | null {
  const rs = f.rounds.filter((r) => r.preferLonger !== null);
  return rs.length === 0 ? null : rs.reduce((s, r) => s + r.preferLonger!, 0) / rs.length;
}

/** Writes REPORT.md and the charts into `dir`; returns the files written. */
export function writeExperimentReport(dir: string, figures: readonly ModeFigures[], meta: ExperimentMeta): string[] {
  for (const c of charts) {
    const series: Series[] = figures.map((f) => ({ label: f.mode, points: f.rounds.filter((r) => r.round >= c.fromRound).map((r) => ({ x: r.round, y: c.metric(r) })) }));
    writeFileSync(join(dir, c.file), lineChartPng({ title: c.title, xLabel: 'round', series, yFormat: c.format }));
  }
  const md = [
    '# ISR-DPO ablation study',
    '',
    `Modes ${figures.map((f) => f.mode).join(', ')}, each run for ${meta.rounds} round(s) from the same starting policy with the same seed, so round 1 judges the same sampled pairs in every mode (METHOD.md describes the modes).`,
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
    `- Settings: \`${JSON.stringify(meta.settings)}\``,
    '',
    ...claims(figures),
    '## Held-out accuracy (normalised exact match)',
    '',
    '![held-out accuracy](accuracy.png)',
    '',
    ...table(figures, (r) => pct(r.accuracy), 0),
    '',
    '## Response length',
    '',
    '![mean held-out answer length](answer-length.png)',
    '',
    'Held-out answers, mean words:',
    '',
    ...table(figures, (r) => num(r.meanWords), 0),
    '',
    "Responses the round's policy sampled for training, mean words:",
    '',
    ...table(figures, (r) => num(r.responseWords), 1),
    '',
    '## The judge against ground truth',
    '',
    '![judge accuracy](judge-accuracy.png)',
    '',
    'A pair is decided by ground truth when exactly one of its two responses is right (normalised exact match of its first word or whole text). ' +
      'Judge accuracy is the share of those the judge chose right, ties (inside the tie band) left out; each cell reads accuracy (right / judged; how many of the decided pairs it tied).',
    '',
    ...table(figures, (r) => `${pct(r.judgeAccuracy)} (${r.judgeRight}/${r.decided - r.judgeTies}; ${r.judgeTies} of ${r.decided} tied)`, 1),
    '',
    "The judge's lean, the tie band set aside: of the same decided pairs, the share whose p(A) (both orders averaged) lies on the right response's side of 0.5; " +
      'a judge whose probabilities crowd 0.5 can lean right more often than chance while deciding almost nothing. Each cell reads share (right / leaning).',
    '',
    ...table(figures, (r) => `${pct(r.leaning ? r.leanRight / r.leaning : null)} (${r.leanRight}/${r.leaning})`, 1),
    '',
    'Of the pairs the judge did not call a tie whose two responses differ in length, the share where it chose the longer (any pair, right or wrong):',
    '',
    ...table(figures, (r) => pct(r.preferLonger), 1),
    '',
    'Pairs trained on (ties left out):',
    '',
    ...table(figures, (r) => `${r.pairs} (${r.ties} ties)`, 1),
    '',
    "## The judge's visual attention",
    '',
    '![visual attention share](visual-share.png)',
    '',
    "Mean share of the verdict token's attention (heads and the later half of the layers averaged) on the video's tokens; text-judge sees no video.",
    '',
    ...table(figures, (r) => pct(r.visualShare), 1),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'REPORT.md'), md);
  return ['REPORT.md', ...charts.map((c) => c.file)];
}
