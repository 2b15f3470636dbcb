import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../../shared/types';
import { formatEta, formatPercent, modelLabel, parseHash, runStatusText, screenHref } from './format';

describe('format', () => {
  it('writes ETAs and percentages', () => {
    expect([formatEta(null), formatEta(125)]).toEqual(['estimating…', 'about 2m 05s left']);
    expect([formatPercent(0.456), formatPercent(0.456, 1), formatPercent(null)]).toEqual(['46%', '45.6%', '–']);
  });

  it('names a model folder by where it came from', () => {
    expect(modelLabel({ path: '/r/3/2', family: 'idefics3', origin: { kind: 'round', runId: 3, round: 2 }, createdAt: '' })).toBe('round 2 of run 3 · /r/3/2');
    expect(modelLabel({ path: '/m/tiny', family: 'llava-onevision', origin: { kind: 'start' }, createdAt: '' })).toBe('llava-onevision start · /m/tiny');
  });

  it('links screens with what they should show, and reads the link back', () => {
    expect([screenHref('review', { run: 3 }), screenHref('history')]).toEqual(['#review?run=3', '#history']);
    const { screen, params } = parseHash('#review?run=3');
    expect([screen, params.get('run')]).toEqual(['review', '3']);
    expect(parseHash('').screen).toBe('');
    expect(parseHash('#history').params.get('run')).toBeNull();
  });

  it("says which round a run stopped for review waits on", () => {
    const run = { status: 'review', reviewRound: 2 } as RunSummary;
    expect([runStatusText(run), runStatusText({ ...run, status: 'failed' })]).toEqual(['awaits review of round 2', 'failed']);
  });
});
