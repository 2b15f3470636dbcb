// `isr-studio inspect logits`: the last position's logits of a full forward pass and the prompt's
// token ids, to compare the studio's numerics with another implementation of the same checkpoint.
import type { Command } from 'commander';
import { modelInputOptions, openModelInput, type ModelInputOptions } from './model-input';

export function registerInspect(program: Command): void {
  const inspect = program.command('inspect').summary('look inside a model: logits for a prompt');
  const logits = inspect
    .command('logits')
    .summary("the last position's logits and the token ids of a prompt")
    .description(
      "run one full forward pass (no cache) over the chat-formatted prompt and print the token ids and the " +
        'logits of the last position, as JSON, for checking the model against other implementations',
    );
  modelInputOptions(logits, false)
    .option('--json', 'print JSON (the only format; accepted for clarity in scripts)')
    .action(async (opts: ModelInputOptions) => {
      const { model, input } = await openModelInput(opts);
      try {
        const all = await model.logits(input);
        const vocab = model.config.text.vocabSize;
        const last = Array.from(all.subarray(all.length - vocab));
        process.stdout.write(`${JSON.stringify({ model: model.dir, tokenIds: input.prompt.inputIds, vocabSize: vocab, logits: last })}\n`);
      } finally {
        await model.release();
      }
    });
}
