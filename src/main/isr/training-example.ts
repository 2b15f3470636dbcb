// One training example from text: the chat as prompt ids (with its visual tokens when there is a
// video), each response's ids ending with the end-of-turn token, the video's features for the
// visual tokens, and the tower's features when the projector is trained. Rounds, `isr-studio train`
// and the demo's warm start all build their examples here.
import type { ChatMessage } from '../engine/model/tokenizer';
import type { VideoLanguageModel } from '../engine/model/vlm';
import type { TrainExample } from '../engine/train/train-config';
import type { VideoFeatures } from './video-features';

export interface ExampleText {
  messages: ChatMessage[];
  chosen: string;
  /** Absent for SFT. */
  rejected?: string;
  /** The video the messages show (absent for a text-only example). */
  video?: string;
}

export interface ExampleVideo {
  features: VideoFeatures;
  frames: number;
  /** Also the tower's features (before the projector): needed when the projector is trained. */
  tower: boolean;
}

export async function trainingExample(vlm: VideoLanguageModel, text: ExampleText, video: ExampleVideo | null): Promise<TrainExample> {
  const eot = vlm.tokenizer.stopTokenIds()[0];
  const response = (t: string) => [...vlm.tokenizer.encode(t), eot];
  const withVideo = text.video !== undefined && video !== null ? { ...video, path: text.video } : null;
  const prompt = vlm.prompt(text.messages, withVideo === null ? 0 : await withVideo.features.shown(withVideo.path, withVideo.frames));
  return {
    prompt: prompt.inputIds,
    chosen: response(text.chosen),
    rejected: text.rejected === undefined ? undefined : response(text.rejected),
    visual: withVideo === null ? undefined : { tokenId: prompt.visualTokenId!, features: await withVideo.features.of(withVideo.path, withVideo.frames) },
    tower: withVideo === null || !withVideo.tower ? undefined : await withVideo.features.of(withVideo.path, withVideo.frames, 'tower'),
  };
}
