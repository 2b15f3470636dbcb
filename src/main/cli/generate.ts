// `isr-studio generate`: a model folder answers a question about a video, greedily or by sampling;
// a single answer streams as it is written.
import type { Command } from 'commander';
import { decimal, integer } from './options';
import { modelInputOptions, openModelInput, type ModelInputOptions } from './model-input';

interface GenerateCliOptions extends ModelInputOptions {
  samples: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  maxNewTokens: number;
  json?: boolean;
}

export function registerGenerate(program: Command): void {
  const command = program
    .command('generate')
    .summary('answer a question about a video with a model folder')
    .description(
      'answer a question about a video: frames are sampled uniformly, encoded by the vision tower (cached), ' +
        'and the decoder writes the answer; temperature 0 is greedy, otherwise samples are seeded and repeatable',
    );
  modelInputOptions(command, true)
    .option('--samples <k>', 'answers to sample', integer(1, 64), 1)
    .option('--temperature <t>', 'sampling temperature (0: greedy)', decimal(0, 10), 0)
    .option('--top-p <p>', 'nucleus sampling mass', decimal(0, 1), 1)
    .option('--top-k <k>', 'sample among the k likeliest tokens (0: all)', integer(0), 0)
    .option('--seed <s>', 'seed for sampling', integer(0), 0)
    .option('--max-new-tokens <n>', 'longest answer in tokens', integer(1, 4096), 64)
    .option('--json', 'print one JSON object with every sample instead of text')
    .action(async (opts: GenerateCliOptions) => {
      const { model, input } = await openModelInput(opts);
      try {
        // One answer as text streams token by token; several, or JSON, print when done.
        const stream = opts.samples === 1 && !opts.json;
        let shown = '';
        const streamed: number[] = [];
        const generations = await model.generate([input], {
          maxNewTokens: opts.maxNewTokens,
          temperature: opts.temperature,
          topP: opts.topP,
          topK: opts.topK,
          seed: opts.seed,
          samples: opts.samples,
          onToken: stream
            ? ({ tokenId }) => {
                streamed.push(tokenId);
                const text = model.tokenizer.decode(streamed);
                // A token can end mid-character; print only once the text has grown past it.
                if (text.startsWith(shown) && !text.endsWith('\uFFFD')) {
                  process.stdout.write(text.slice(shown.length));
                  shown = text;
                }
              }
            : undefined,
        });
        if (opts.json) {
          const samples = generations.map((g) => ({ text: g.text, tokenIds: g.tokenIds, finishReason: g.finishReason }));
          process.stdout.write(`${JSON.stringify({ model: model.dir, video: opts.video, prompt: opts.prompt, frames: opts.frames, samples })}\n`);
        } else if (stream) {
          process.stdout.write('\n');
        } else {
          generations.forEach((g, i) => process.stdout.write(`[${i + 1}] ${g.text}\n`));
        }
      } finally {
        await model.release();
      }
    });
}
