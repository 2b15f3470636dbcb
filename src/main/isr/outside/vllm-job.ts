// `isr-studio export --format vllm-job`: a round's responses phase as a job for vLLM's offline
// engine on a GPU machine (docs/scale.md). Every prompt of the round with its video, the times the
// studio reads its frames at, the chat as the studio renders it, and a seed per prompt; the run's
// sampling settings under vLLM's SamplingParams names. The responses come back with
// `isr-studio import-responses`, and the studio judges and reviews them as its own.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../../../shared/errors';
import { readModelConfig } from '../../engine/model/config';
import { familyOf } from '../../engine/model/families';
import { chatText } from '../../engine/model/prompt';
import { ModelTokenizer, type ChatMessage } from '../../engine/model/tokenizer';
import type { Db } from '../../store/db';
import { responsesOf } from '../../store/rounds';
import { toJsonl } from '../export';
import { allPrompts } from '../phases/round-scope';
import { responseSeed } from '../seeds';
import { answerTurn, type Templates } from '../templates';
import { copyScripts, frameTimes, jobHeader, placePolicy, placeVideos, startJobDir, writeJson, type JobPlacement } from './job-files';
import { outsideRound } from './outside-round';

/** One row of prompts.jsonl. */
export interface VllmJobRow {
  prompt_id: number;
  row_id: string;
  question: string;
  /** The chat the studio asks, in the content shape the model's template reads. */
  messages: ChatMessage[];
  /** That chat rendered by the model's chat template, placeholders not expanded: vLLM's prompt. */
  prompt_text: string;
  video: string;
  frame_times: number[];
  /** The request's seed: the studio's seed of the prompt's first sample. */
  seed: number;
}

/** Re-draws of a sample identical to one before it, as the studio's responses phase allows. */
const redraws = 3;

export function writeVllmJob(db: Db, o: { runId: number; round: number; out: string; placement: JobPlacement }): { dir: string; prompts: number; files: string[] } {
  const round = outsideRound(db, o.runId, o.round);
  const stored = responsesOf(db, round.round.id).length;
  if (stored > 0) throw new ApiError('bad_input', `round ${o.round} of run ${o.runId} already has ${stored} responses: a vllm-job samples a round's responses from none`);
  const dir = startJobDir(o.out, 'vllm-job');
  const config = readModelConfig(round.policy.path);
  const tokenizer = ModelTokenizer.load(round.policy.path);
  const family = familyOf(config);
  const { frames, samples } = round.settings;
  const prompts = allPrompts(db, round.run.datasetId);
  const videos = placeVideos(dir, prompts.map((p) => p.video), o.placement.copyVideos);
  const rows: VllmJobRow[] = prompts.map((p) => {
    const messages = answerTurn(round.round.templates as Templates, p.question);
    return {
      prompt_id: p.id,
      row_id: p.rowId,
      question: p.question,
      messages: family.promptMessages(messages, frames),
      prompt_text: chatText(tokenizer, config, messages, frames, { addGenerationPrompt: true }),
      video: videos.get(p.video.id)!,
      frame_times: frameTimes(p.video, frames),
      seed: responseSeed({ runSeed: round.settings.seed, round: round.round.round, promptId: p.id, sample: 0, attempt: 0 }),
    };
  });
  writeFileSync(join(dir, 'prompts.jsonl'), toJsonl(rows));
  const policy = placePolicy(dir, round.policy.path, o.placement.copyModel);
  const modality = family.placeholdersFor(2) === 1 ? 'video' : 'image';
  const job = {
    ...jobHeader('vllm-job', round, policy),
    modality,
    // What the rendered prompt holds for the video: vLLM expands each into the visual tokens.
    placeholder: { text: family.placeholder, per_prompt: family.placeholdersFor(frames) },
    prompts: 'prompts.jsonl',
    output: 'responses.jsonl',
    // The run's sampling settings under vLLM's SamplingParams names (docs/method.md maps them to the run's).
    sampling: {
      n: samples,
      temperature: round.settings.temperature,
      top_p: round.settings.topP,
      max_tokens: round.settings.maxNewTokens,
      stop_token_ids: tokenizer.stopTokenIds(),
      skip_special_tokens: true,
      redraws,
    },
  };
  writeJson(join(dir, 'job.json'), job);
  copyScripts(dir, ['generate_vllm.py', 'isr_job.py']);
  writeFileSync(join(dir, 'requirements.txt'), ['vllm>=0.10', 'numpy', 'pillow', '# and ffmpeg on PATH (or FFMPEG_PATH): frames are read as the studio reads them', ''].join('\n'));
  writeFileSync(join(dir, 'README.md'), vllmReadme(round, job.sampling, modality, rows.length, policy));
  return { dir, prompts: rows.length, files: ['README.md', 'job.json', 'prompts.jsonl', 'generate_vllm.py', 'isr_job.py', 'requirements.txt'] };
}

function vllmReadme(o: ReturnType<typeof outsideRound>, s: { n: number; temperature: number; top_p: number; max_tokens: number; stop_token_ids: number[] }, modality: string, prompts: number, policy: string): string {
  const r = `round ${o.round.round} of run ${o.run.id}`;
  return `# Responses of ${r} (ISR Studio, vllm-job)

This folder samples the responses of ${r} of an ISR-DPO run with vLLM's offline engine on a GPU
machine: ${s.n} responses for each of the ${prompts} prompts, from the round's policy, with the run's
sampling settings. The studio keeps everything else: the responses come back into it, and it writes
the visual contexts, judges the pairs, trains and evaluates as usual.

## Run it

\`\`\`sh
pip install -r requirements.txt          # and ffmpeg on PATH
python generate_vllm.py                  # --tensor-parallel-size N for a model split over N GPUs
\`\`\`

\`python generate_vllm.py --help\` lists the options (\`--model\` for a policy folder elsewhere,
\`--video-root\` for videos elsewhere, \`--batch\` prompts per call, \`--max-model-len\`).
The policy is \`${policy}\`${policy === 'policy' ? ' (in this folder)' : ': copy it to this machine and pass `--model DIR`'}.
Killed, it goes on from the prompts \`responses.jsonl\` already holds.

## What it writes

\`responses.jsonl\`: one row per response, \`{"prompt_id", "sample", "text", "token_count", "seed",
"finish_reason"}\`, ${s.n} per prompt (samples 0 to ${s.n - 1}).

## Bring it back

\`\`\`sh
isr-studio import-responses --db studio.db --run ${o.run.id} --round ${o.round.round} --file responses.jsonl
isr-studio run --db studio.db --resume ${o.run.id}
\`\`\`

\`import-responses\` checks every row (a prompt of the round, a sample number, text) and that every
prompt has all its samples, then stores them as the round's responses; \`run --resume\` goes on with
the round's contexts, judging, pairs, review, training and evaluation.

## The settings (from the run, under vLLM's names)

| \`SamplingParams\` | value | the run's setting |
|---|---|---|
| \`n\` | ${s.n} | \`samples\` |
| \`temperature\` | ${s.temperature} | \`temperature\` |
| \`top_p\` | ${s.top_p} | \`topP\` |
| \`max_tokens\` | ${s.max_tokens} | \`maxNewTokens\` |
| \`seed\` | per prompt, in \`prompts.jsonl\` | derived from \`seed\` as the studio derives it |
| \`stop_token_ids\` | ${JSON.stringify(s.stop_token_ids)} | the tokens the studio stops at |

Each prompt's video goes in as vLLM's \`multi_modal_data\` ${modality === 'video' ? '`"video"` (the frames as one array, [frames, height, width, 3])' : '`"image"` (one image per frame, as the model\'s template places them)'},
its ${o.settings.frames} frames read at the times in \`prompts.jsonl\` as the studio reads them; the
prompt is \`prompt_text\`, the chat as the studio renders it. A sample identical to another of its
prompt is drawn again with a new seed (up to ${redraws} times), as the studio does. vLLM's random
streams are not the studio's: the same seed gives other responses here than in the studio.
`;
}
