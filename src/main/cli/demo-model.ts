// `isr-studio demo-model`: the demo's starting policy, a `demo`-sized fixture warm-started with SFT on the
// demo data (see src/main/demo/demo-model.ts); prints its held-out accuracy.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { count } from '../../shared/plural';
import { fixtureArchs, fixtureSizes, type FixtureArch, type FixtureSize } from '../engine/model/fixture';
import { demoModelDefaults, heldOutContexts, type HeldOutContext } from '../demo/demo-model';
import { childProcessEngine } from '../engine-host/child-process';
import { resolveFfmpeg } from '../video/ffmpeg';
import { progressWithEta } from './jobs';
import { defaultCacheDir } from './model-input';
import { choice, decimal, integer } from './options';

export function registerDemoModel(program: Command): void {
  program
    .command('demo-model')
    .summary('warm-start a fixture with SFT on the demo data: the demo rounds\' starting policy')
    .description(
      'write a fixture of one family (demo-sized by default: a 4 x 256 decoder) and train it with SFT (LoRA r 32 on the decoder, the embeddings and head ' +
        'trained whole) in stages: reading (text-only judge items about synthetic scenes, first with the answer given as the description, then with ' +
        'the scene\'s description), then the demo data\'s train split with its videos (captions of the clips, corrections of flawed captions, answers to ' +
        'the questions, judge examples whose worse answer is wrong, verbose and hallucinated, or right but padded with an invented shape, and the declared ' +
        'language prior: with nothing to check, the longer answer is better) and the captions, corrections and answers of clips it renders for itself, ' +
        'with reading items mixed in, then a short reading stage at a lower rate, mostly on scenes of many shapes. ' +
        '--out becomes a model folder (training state, metrics and the untrained base under --out/training; running again resumes). Prints held-out ' +
        'answer accuracy, judge accuracy on the test split (with the clip\'s description and with the video alone), the judge\'s accuracy on fresh ' +
        'text-only reading items, and its prior.',
    )
    .requiredOption('--data <dir>', 'demo data folder (from `isr-studio demo-data`)')
    .requiredOption('--out <dir>', 'model folder to write')
    .option('--arch <arch>', `family: ${fixtureArchs.join(' or ')}`, choice(fixtureArchs), demoModelDefaults.arch)
    .option('--size <size>', `fixture size: ${fixtureSizes.join(' or ')} (tiny, for trying the commands out with --reading-match 50 --reading-judge 50, takes a few minutes on 2 cores)`, choice(fixtureSizes), demoModelDefaults.size)
    .option('--epochs <e>', 'passes over the warm-start items', integer(1, 100), demoModelDefaults.epochs)
    .option('--lr <lr>', 'learning rate of the reading stages (the match stage\'s, constant; the judge stage\'s peak, then cosine)', decimal(1e-9, 1), demoModelDefaults.lr)
    .option('--video-lr <lr>', 'peak learning rate of the video stage (warm-up, then cosine)', decimal(1e-9, 1), demoModelDefaults.videoLr)
    .option('--reading-match <n>', 'updates of 8 text-only judge items whose description gives the answer (0 skips the stage)', integer(0, 100000), demoModelDefaults.readingMatch)
    .option('--reading-judge <n>', 'then updates of 8 text-only judge items with a scene\'s description, a third of them still given the answer, the rate decaying (0 skips the stage)', integer(0, 100000), demoModelDefaults.readingJudge)
    .option('--reading-settle <n>', 'after the video stage, updates of 8 such items at 0.4 times --lr, scenes of many shapes drawn more often, to settle the judge\'s reading (0 skips the stage)', integer(0, 100000), demoModelDefaults.readingSettle)
    .option('--pretraining-clips <n>', 'clips the warm start renders for itself (a stand-in for a real model\'s video pretraining), whose captions, corrections and answers join the video stage (0: the demo data\'s train split alone)', integer(0, 100000), demoModelDefaults.pretrainingClips)
    .option('--frames <n>', 'frames sampled from each video', integer(1, 64), demoModelDefaults.frames)
    .option('--seed <s>', 'seed for the weights, the items and the training order', integer(0), demoModelDefaults.seed)
    .option('--cache <dir>', 'cache for frames and vision features', defaultCacheDir())
    .action(async (opts: { data: string; out: string; arch: FixtureArch; size: FixtureSize; epochs: number; lr: number; videoLr: number; frames: number; readingMatch: number; readingJudge: number; readingSettle: number; pretrainingClips: number; seed: number; cache: string }) => {
      const started = Date.now();
      const out = resolve(opts.out);
      const { cache, ...settings } = opts;
      const input = { ...settings, data: resolve(opts.data), out, ffmpeg: (await resolveFfmpeg()).path, cacheDir: resolve(cache) };
      // In an engine process, as the studio's runs: a native crash is reported with how it ended.
      const engine = childProcessEngine();
      const progress = progressWithEta();
      const r = await engine.run('demoModel', input, { signal: new AbortController().signal, progress }, 'demo-model').finally(() => engine.close());
      const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
      process.stdout.write(
        `trained ${r.readingSteps.match} + ${r.readingSteps.judge} reading steps, then ${count(r.steps, 'step')} on ${count(r.examples, 'warm-start item')}${r.final ? ` (final loss ${r.final.loss.toFixed(4)})` : ''}` +
          `${r.readingSteps.settle > 0 ? `, then ${r.readingSteps.settle} reading steps` : ''} in ${((Date.now() - started) / 1000).toFixed(0)} s; model in ${out}\n` +
          `held-out accuracy: ${pct(r.accuracy)} of ${count(r.answers, 'test question')} (exact match)\n` +
          Object.entries(heldOutContexts).map(([context, { sees, judge }]) => {
            const j = r.judge[context as HeldOutContext];
            return `judge accuracy ${sees} (as ${judge} judge reads it): ${pct(j.accuracy)} of ${count(j.judged, 'held-out judge item')}, ${pct(j.decided)} outside the tie band\n`;
          }).join('') +
          `reading: ${pct(r.readingAccuracy)} of fresh text-only judge items; prior: the longer response preferred on ${pct(r.priorLonger)} of held-out pairs with nothing to check\n`,
      );
    });
}
