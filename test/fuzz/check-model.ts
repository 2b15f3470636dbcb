// The fuzz suite's model checker (issue 23): a child process that runs VideoLanguageModel.check on
// each folder it is sent, so a check that loops or allocates without bound is killed at the case's
// bound (synchronous work cannot be raced in the suite's own process) and a crash ends only this.
// A folder the check accepts may be put to use too: loaded, answering a text and a one-frame
// question, which is what the check promises a run can do.
import { ApiError } from '../../src/shared/errors';
import { userTurn } from '../../src/main/engine/model/tokenizer';
import { VideoLanguageModel } from '../../src/main/engine/model/vlm';

export type CheckOutcome =
  | { ok: true; arch: string; ms: number }
  | { ok: false; stage: 'check' | 'use'; apiError: boolean; code: string | null; name: string; message: string; ms: number };

async function use(dir: string): Promise<void> {
  const vlm = await VideoLanguageModel.load(dir);
  try {
    const text = vlm.prompt(userTurn('Which answer is better?', false), 0);
    await vlm.generate([{ prompt: text, features: null }], { maxNewTokens: 2 });
    const { width, height } = vlm.frameSize;
    const features = await vlm.visualFeatures([new Uint8Array(width * height * 3).fill(128)]);
    const video = vlm.prompt(userTurn('What is shown?'), { frames: 1, timesS: [0], durationS: 1 });
    await vlm.generate([{ prompt: video, features }], { maxNewTokens: 2 });
  } finally {
    await vlm.release();
  }
}

process.on('message', async (request: { id: number; dir: string; use: boolean }) => {
  const started = Date.now();
  let outcome: CheckOutcome;
  let stage: 'check' | 'use' = 'check';
  try {
    const { arch } = VideoLanguageModel.check(request.dir);
    stage = 'use';
    if (request.use) await use(request.dir);
    outcome = { ok: true, arch, ms: Date.now() - started };
  } catch (err) {
    const e = err as { name?: unknown; message?: unknown; code?: unknown };
    outcome = {
      ok: false,
      stage,
      apiError: err instanceof ApiError,
      code: typeof e?.code === 'string' ? e.code : null,
      name: typeof e?.name === 'string' ? e.name : typeof err,
      message: typeof e?.message === 'string' ? e.message : String(err),
      ms: Date.now() - started,
    };
  }
  process.send!({ id: request.id, outcome });
});
