// SmolVLM2 (model_type smolvlm): Idefics3's tower, connector and Llama decoder, with its own video
// prompt. processing_smolvlm.py renders chats that show a video with its DEFAULT_CHAT_TEMPLATE and
// replaces the one <video> by an intro naming the frame count and the clip's duration, then
// "\nFrame from mm:ss:" and one unsplit image per frame, then a blank line
// (video_processing_smolvlm.py: DEFAULT_VIDEO_INTRO, FRAME_TIMESTAMP_MESSAGE, DEFAULT_MEDIA_OUTTRO).
import { configClasses, type Json } from '../config-reader';
import { tokenizerStyles } from '../fixture-tokenizer';
import type { PromptVideo } from '../prompt';
import type { ChatMessage, ChatTemplateText } from '../tokenizer';
import type { FixturePreset } from './family';
import { Idefics3Family, idefics3Fixture, type Idefics3Config } from './idefics3';
import { cardinalWords } from './number-words';

const videoTemplate: ChatTemplateText = { source: "processing_smolvlm.py's DEFAULT_CHAT_TEMPLATE (SmolVLM's template for chats with a video)", text: tokenizerStyles.smolvlm.chatTemplate };

const fixture: FixturePreset = {
  tokenizerStyle: tokenizerStyles.smolvlm,
  configJson: (sections, idOf, modelType) => ({ ...idefics3Fixture.configJson(sections, idOf, modelType), architectures: ['SmolVLMForConditionalGeneration'] }),
  processorFrom: 'smolvlm2-256m-video',
  preprocessorJson: (published, image) => ({
    ...idefics3Fixture.preprocessorJson(published, image),
    video_sampling: { ...(published.video_sampling as Json), video_size: { longest_edge: image } },
  }),
};

const twoDigits = (n: number) => String(n).padStart(2, '0');

/** Python's str(timedelta(seconds=s)) for whole seconds under a day: H:MM:SS. */
const hms = (s: number) => `${Math.floor(s / 3600)}:${twoDigits(Math.floor(s / 60) % 60)}:${twoDigits(s % 60)}`;

export class SmolVlmFamily extends Idefics3Family {
  override readonly id = 'smolvlm';
  override readonly modelTypes = ['smolvlm'];
  override readonly placeholder = '<video>';
  override readonly fixture = fixture;
  protected override readonly visionDefaults = configClasses.smolvlm_vision;

  override chatTemplate(messages: ChatMessage[]): ChatTemplateText | null {
    const showsVideo = messages.some((m) => typeof m.content !== 'string' && m.content.some((p) => p.type === 'video'));
    return showsVideo ? videoTemplate : null;
  }

  // One <video> part stays one placeholder (Idefics3 writes an <image> part per frame).
  override promptMessages(messages: ChatMessage[]): ChatMessage[] {
    return messages;
  }

  override placeholdersFor(): number {
    return 1;
  }

  override expandPlaceholder(config: Idefics3Config, video: PromptVideo): string {
    const { frames, timesS, durationS } = video;
    if (timesS === undefined || durationS === undefined || timesS.length !== frames) {
      throw new Error(`${config.file}: a SmolVLM2 prompt states the clip's duration and each of its ${frames} frames' times, and they were not given`);
    }
    const perFrame = timesS.map((t) => `\nFrame from ${twoDigits(Math.floor(t / 60))}:${twoDigits(Math.floor(t % 60))}:${this.frameImage(config)}`);
    return `You are provided the following series of ${cardinalWords(frames)} frames from a ${hms(Math.floor(durationS))} [H:MM:SS] video.\n${perFrame.join('')}\n\n`;
  }
}
