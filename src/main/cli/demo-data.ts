// `isr-studio demo-data`: writes the synthetic video QA set (moving coloured shapes).
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ApiError } from '../../shared/errors';
import { count } from '../../shared/plural';
import { resolveFfmpeg } from '../video/ffmpeg';
import { defaultDemoVideos, testClipCount, writeDemoData } from '../demo/data/write';
import { integer } from './options';

export function registerDemoData(program: Command): void {
  program
    .command('demo-data')
    .summary('write a synthetic video QA set (moving coloured shapes) made with ffmpeg')
    .description(
      'write a synthetic video QA set: short mp4 clips of moving coloured shapes, questions about ' +
        'colour, count, direction and order in train.jsonl and test.jsonl, and each clip\'s ground ' +
        `truth and caption in clips.jsonl (a sixth of the clips are held out for test; ${defaultDemoVideos} clips ` +
        `make ${defaultDemoVideos - testClipCount(defaultDemoVideos)} train and ${testClipCount(defaultDemoVideos)} test)`,
    )
    .requiredOption('--out <dir>', 'folder to write into (created if missing)')
    .option('--videos <n>', 'number of clips', integer(1), defaultDemoVideos)
    .option('--test-clips <n>', 'clips held out for test, the last ones written (default: a sixth)', integer(0))
    .option('--seed <s>', 'seed: the same seed writes the same data', integer(0), 1)
    .action(async (opts: { out: string; videos: number; testClips?: number; seed: number }) => {
      if (opts.testClips !== undefined && opts.testClips > opts.videos) throw new ApiError('invalid_argument', `--test-clips ${opts.testClips} is more than the ${opts.videos} clips (--videos)`);
      const ffmpeg = await resolveFfmpeg();
      const out = resolve(opts.out);
      const summary = await writeDemoData(ffmpeg.path, out, {
        videos: opts.videos,
        testClips: opts.testClips,
        seed: opts.seed,
        onClip: (done, total) => {
          if (done === total || done % 8 === 0) process.stdout.write(`clips: ${done}/${total}\n`);
        },
      });
      process.stdout.write(
        `wrote ${count(summary.clips, 'clip')} to ${out}: train.jsonl (${count(summary.trainRows, 'question')} on ${count(summary.trainClips, 'clip')}), ` +
          `test.jsonl (${count(summary.testRows, 'question')} on ${count(summary.testClips, 'clip')}), clips.jsonl (ground truth and captions)\n`,
      );
    });
}
