// What `generate` and `inspect` share: a model folder loaded, a question (and optionally a video)
// turned into the model's prompt, and the video's features from the on-disk caches.
import type { Command } from 'commander';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { userTurn } from '../engine/model/tokenizer';
import { VideoLanguageModel, type PromptInput } from '../engine/model/vlm';
import { VideoFeatures } from '../isr/video-features';
import { resolveFfmpeg } from '../video/ffmpeg';
import { integer } from './options';

export interface ModelInputOptions {
  model: string;
  prompt: string;
  video?: string;
  frames: number;
  cache: string;
}

/** Frames and features are cached per user, like other model tools do ($XDG_CACHE_HOME/isr-studio). */
export const defaultCacheDir = (): string => join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'isr-studio');

/** The options every model command takes, declared once. */
export function modelInputOptions(command: Command, videoRequired: boolean): Command {
  const video = '--video <file>';
  const videoHelp = 'video the question is about';
  return (videoRequired ? command.requiredOption(video, videoHelp) : command.option(video, videoHelp))
    .requiredOption('--model <dir>', 'model folder (Hugging Face layout: config.json, model.safetensors, tokenizer.json, ...)')
    .requiredOption('--prompt <text>', 'the question or instruction')
    .option('--frames <n>', 'frames sampled uniformly from the video', integer(1, 64), 8)
    .option('--cache <dir>', 'cache for frames and vision features', defaultCacheDir());
}

export async function openModelInput(opts: ModelInputOptions): Promise<{ model: VideoLanguageModel; input: PromptInput }> {
  const model = await VideoLanguageModel.load(resolve(opts.model));
  try {
    if (opts.video === undefined) {
      return { model, input: { prompt: model.prompt(userTurn(opts.prompt, false), 0), features: null } };
    }
    const ffmpeg = await resolveFfmpeg();
    const videos = new VideoFeatures(model, ffmpeg.path, opts.cache);
    await videos.prepare([resolve(opts.video)], opts.frames);
    const features = await videos.of(resolve(opts.video), opts.frames);
    return { model, input: { prompt: model.prompt(userTurn(opts.prompt), await videos.shown(resolve(opts.video), opts.frames)), features } };
  } catch (err) {
    await model.release();
    throw err;
  }
}
