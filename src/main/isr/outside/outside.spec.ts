// A round's steps handed outside the studio and brought back (docs/scale.md), on the tiny fixture:
// run A does everything in the studio; run B (outside.training, A's settings and seed) stops for its
// training, exports a trl-job and takes A's own PEFT adapter back; run C (outside.responses, another
// seed) stops before sampling, exports a vllm-job and takes A's responses back, then judges them.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelConfig } from '../../engine/model/config';
import { familyOf } from '../../engine/model/families';
import { writeFixture } from '../../engine/model/fixture';
import { buildPrompt } from '../../engine/model/prompt';
import { ModelTokenizer } from '../../engine/model/tokenizer';
import { openCheckpoint } from '../../engine/graph/safetensors';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, decoderLinearModules, isLoraTarget, writeAdapter } from '../../engine/train/lora';
import { expectedWeights } from '../../engine/model/weights';
import { beginImport, markReady } from '../../store/datasets';
import { openDatabase, type Db } from '../../store/db';
import { outsideWorkOf } from '../../store/outside-work';
import { insertPrompts } from '../../store/prompts';
import { trainedPairsOf } from '../../store/review';
import { getRun, modelPath, pairsOf, responsesOf, roundsOf } from '../../store/rounds';
import { getVideo, upsertVideo } from '../../store/videos';
import { resolveFfmpeg } from '../../video/ffmpeg';
import { frameAt, uniformFrameTimes } from '../../video/frames';
import { flatClip } from '../../video/testing/clips';
import { roundDir } from '../phases/training';
import { summarise } from '../round-summary';
import { createRunRecord, runRounds } from '../run';
import { responseSeed } from '../seeds';
import { parseRunSettings } from '../settings';
import { answerTurn, loadTemplates, templateNames } from '../templates';
import { importAdapter } from './import-adapter';
import { importResponses } from './import-responses';
import { writeTrlJob } from './trl-job';
import { writeVllmJob } from './vllm-job';

let dir: string;
let ffmpeg: string;
let db: Db;
let datasetId: number;
const model = () => join(dir, 'model');
const runsDir = () => join(dir, 'studio.db.runs');
const questions = ['What colour is the square?', 'Is the square red?', 'Which colour fills the frame?'];
const settings = { samples: 2, maxNewTokens: 4, frames: 2, tieBand: [0.5, 0.5], train: { epochs: 2, batchSize: 1, lr: 0.01, loraR: 2, loraAlpha: 4 }, evaluation: { maxNewTokens: 4 } };
const env = () => ({ db, ffmpeg, cacheDir: join(dir, 'cache'), runsDir: runsDir() });
const newRun = (over: object) => createRunRecord(db, { model: model(), mode: 'no-context', datasetId, evalDatasetId: datasetId, rounds: 1, settings: { ...settings, ...over } });
const round1 = (runId: number) => roundsOf(db, runId).find((r) => r.round === 1)!;

/** python3 with these modules, or why not: the checks that need it are skipped with that reason. */
function python(...modules: string[]): string | null {
  const probe = spawnSync('python3', ['-c', modules.map((m) => `import ${m}`).join('; ') || 'pass']);
  if (probe.error) return 'python3 is not installed';
  return probe.status === 0 ? null : `python3 lacks ${modules.join(', ')}`;
}
const py = (code: string, extraEnv: Record<string, string> = {}) => execFileSync('python3', ['-c', code], { env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-outside-'));
  ffmpeg = (await resolveFfmpeg()).path;
  // Each frame its own shade, so reading the wrong frame shows.
  await flatClip(ffmpeg, join(dir, 'red.mp4'), [[220, 30, 30], [180, 40, 40], [140, 50, 50], [100, 60, 60]], { width: 32, height: 32, fps: 4 });
  await flatClip(ffmpeg, join(dir, 'blue.mp4'), [[30, 30, 220], [40, 40, 180], [50, 50, 140], [60, 60, 100]], { width: 32, height: 32, fps: 4 });
  const templates = loadTemplates();
  writeFixture(model(), { arch: 'llava-onevision', size: 'tiny', seed: 4, corpus: [...templateNames.map((n) => templates[n]), ...questions, 'red blue square'] });
  db = openDatabase(join(dir, 'studio.db'));
  datasetId = beginImport(db, 'outside', join(dir, 'outside.jsonl'));
  const videoIds = ['red', 'blue'].map((c) => upsertVideo(db, { path: join(dir, `${c}.mp4`), durationS: 1, width: 32, height: 32, fps: 4 }).id);
  insertPrompts(db, questions.map((question, i) => ({ datasetId, videoId: videoIds[i % 2], rowId: `q${i}`, line: i + 1, lineIndex: 0, question, answer: i % 2 === 0 ? 'red' : 'blue' })));
  markReady(db, datasetId);
}, 120_000);
afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every tensor of a model folder, as bytes. */
function tensors(folder: string): Map<string, Buffer> {
  const c = openCheckpoint(folder);
  try {
    return new Map(c.names().map((n) => [n, Buffer.from(c.readBytes(n))]));
  } finally {
    c.close();
  }
}

const evaluations = (runId: number) => db.prepare('SELECT prompt_id, answer, token_count FROM evaluations WHERE round_id = ? ORDER BY prompt_id').all(round1(runId).id);

describe('a round trained outside the studio', () => {
  let studio: number;
  let outside: number;

  it('stops before training with its pairs fixed, when the run hands its training outside', async () => {
    studio = await newRun({});
    const done = await runRounds(studio, env());
    expect(done).toMatchObject({ awaitingReview: null, awaitingOutside: null });
    expect(round1(studio).outputModelId).not.toBeNull();

    outside = await newRun({ outside: { training: true } });
    const stopped = await runRounds(outside, env());
    expect(stopped).toEqual({ rounds: [], awaitingReview: null, awaitingOutside: { round: 1, step: 'training' } });
    expect(getRun(db, outside)!.status).toBe('stopped');
    const r = round1(outside);
    expect([r.phase, r.outputModelId]).toEqual(['training', null]);
    expect(db.prepare('SELECT COUNT(*) FROM train_steps WHERE round_id = ?').pluck().get(r.id)).toBe(0);
    // The pairs its job trains on are fixed now, as the studio's own training fixes them; the same as run A's.
    const pairs = (runId: number) => trainedPairsOf(db, round1(runId).id).map((t) => [responsesOf(db, round1(runId).id).find((x) => x.id === t.chosenResponseId)!.text]);
    expect(pairs(outside).length).toBeGreaterThan(0);
    expect(pairs(outside)).toEqual(pairs(studio));
    // Resumed without its adapter, it stops there again.
    expect((await runRounds(outside, env())).awaitingOutside).toEqual({ round: 1, step: 'training' });
  }, 240_000);

  it('exports a trl-job whose dataset holds exactly the pairs the round trains on, row by row, with their videos and frame times', () => {
    const job = join(dir, 'trl-job');
    const written = writeTrlJob(db, { runId: outside, round: 1, out: job, launch: { gpus: 4, zeroStage: 3 }, placement: { copyVideos: true, copyModel: false } });
    const r = round1(outside);
    const trained = trainedPairsOf(db, r.id);
    const responses = new Map(responsesOf(db, r.id).map((x) => [x.id, x.text]));
    const pairPrompt = new Map(pairsOf(db, r.id).map((p) => [p.id, p.promptId]));
    const rows = readFileSync(join(job, 'pairs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(written.pairs).toBe(trained.length);
    expect(rows).toHaveLength(trained.length);
    const config = readModelConfig(model());
    const tokenizer = ModelTokenizer.load(model());
    const templates = loadTemplates();
    for (const [i, t] of trained.entries()) {
      const row = rows[i];
      const prompt = db.prepare('SELECT p.id, p.row_id, p.question, p.video_id FROM prompts p WHERE p.id = ?').get(pairPrompt.get(t.pairId)) as { id: number; row_id: string; question: string; video_id: number };
      const video = getVideo(db, prompt.video_id)!;
      expect([row.pair_id, row.prompt_id, row.row_id], `row ${i}`).toEqual([t.pairId, prompt.id, prompt.row_id]);
      expect(row.prompt).toEqual([{ role: 'user', content: [{ type: 'video' }, { type: 'text', text: prompt.question }] }]);
      expect(row.chosen).toEqual([{ role: 'assistant', content: [{ type: 'text', text: responses.get(t.chosenResponseId) }] }]);
      expect(row.rejected).toEqual([{ role: 'assistant', content: [{ type: 'text', text: responses.get(t.rejectedResponseId) }] }]);
      expect(row.frame_times).toEqual(uniformFrameTimes(video, 2));
      // The video travels with the job, byte for byte.
      expect(readFileSync(join(job, row.video as string)).equals(readFileSync(video.path))).toBe(true);
      // The rendered prompt, its placeholder expanded as the processor expands it, is what the studio tokenises.
      const text = (row.prompt_text as string).split('<video>');
      expect(text).toHaveLength(2);
      const expanded = text.join(familyOf(config).expandPlaceholder(config, { frames: 2 }));
      expect(tokenizer.encode(expanded)).toEqual(buildPrompt(tokenizer, config, answerTurn(templates, prompt.question), 2, { addGenerationPrompt: true }).inputIds);
    }
    const spec = JSON.parse(readFileSync(join(job, 'job.json'), 'utf8'));
    const run = parseRunSettings(getRun(db, outside)!.settings);
    expect(spec).toMatchObject({
      format: 'trl-job', run: outside, round: 1, modality: 'video', dataset: 'pairs.jsonl', output_dir: 'output',
      policy: { path: model(), family: 'llava-onevision', fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) },
      train: {
        dpo_config: {
          loss_type: ['sigmoid'], loss_weights: [1], beta: run.train.beta, learning_rate: run.train.lr, num_train_epochs: run.train.epochs,
          max_length: run.train.maxLength, truncation_mode: 'keep_start', seed: run.seed, lr_scheduler_type: 'cosine', max_grad_norm: 1, weight_decay: 0, gradient_checkpointing: true,
        },
        warmup_ratio: 0.1, pairs_per_update: run.train.batchSize, completion_end_token_id: tokenizer.stopTokenIds()[0],
        lora_config: { r: 2, lora_alpha: 4, lora_dropout: 0, modules_to_save: null, use_rslora: false, bias: 'none', task_type: 'CAUSAL_LM' },
        lora_targets: run.train.loraTargets,
      },
    });
    expect(readFileSync(join(job, 'README.md'), 'utf8')).toContain('accelerate launch --config_file accelerate.yaml train_dpo.py');
    expect(readFileSync(join(job, 'README.md'), 'utf8')).toContain(`isr-studio import-adapter --db studio.db --run ${outside} --round 1 --adapter output`);
  });

  it('writes scripts Python compiles and an accelerate config of the GPUs and ZeRO stage asked for', (ctx) => {
    const missing = python('yaml');
    if (missing) ctx.skip(missing);
    const job = join(dir, 'trl-job');
    py(`import py_compile\nfor f in ["train_dpo.py", "isr_job.py"]: py_compile.compile(${JSON.stringify(job)} + "/" + f, doraise=True)`);
    const accelerate = JSON.parse(py(`import json, yaml; print(json.dumps(yaml.safe_load(open(${JSON.stringify(join(job, 'accelerate.yaml'))}))))`).toString());
    expect(accelerate).toMatchObject({ distributed_type: 'DEEPSPEED', num_processes: 4, num_machines: 1, mixed_precision: 'bf16', deepspeed_config: { zero_stage: 3, zero3_init_flag: true } });
    // A syntax error is caught: the check can fail.
    writeFileSync(join(dir, 'broken.py'), 'def f(:\n  pass\n');
    expect(() => py(`import py_compile; py_compile.compile(${JSON.stringify(join(dir, 'broken.py'))}, doraise=True)`)).toThrow();
  });

  it("selects in the job's Python exactly the decoder layers the studio adapts, in either transformers layout, never the vision tower's", (ctx) => {
    const missing = python('numpy');
    if (missing) ctx.skip(missing);
    const config = readModelConfig(model());
    const targets = parseRunSettings({}).train.loraTargets;
    // Module paths as transformers < 4.52 names them (the checkpoint's), and as 4.52+ and 5 do.
    const linear = [...expectedWeights(config)].filter(([n, shape]) => n.endsWith('.weight') && shape.length === 2).map(([n]) => n.slice(0, -'.weight'.length));
    const v5 = linear.map((n) => n.replace(/^language_model\.model\./, 'model.language_model.').replace(/^language_model\.lm_head$/, 'lm_head').replace(/^(vision_tower|multi_modal_projector)\./, 'model.$1.'));
    const withContainers = (names: string[]) => [...new Set(names.flatMap((n) => n.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'))))];
    const selected = (names: string[]) => JSON.parse(py(
      `import sys, json, re; sys.path.insert(0, ${JSON.stringify(join(dir, 'trl-job'))}); from isr_job import decoder_targets\n` +
        `names = ${JSON.stringify(withContainers(names))}\n` +
        `regex = decoder_targets(names, ${JSON.stringify(targets)})\nprint(json.dumps([n for n in names if re.fullmatch(regex, n)]))`,
    ).toString()) as string[];
    const studio = decoderLinearModules(config).filter((m) => isLoraTarget(m, targets)).map((m) => m.slice('model.'.length));
    expect(studio.length).toBeGreaterThan(0);
    expect(selected(linear).sort()).toEqual(studio.map((m) => `language_model.model.${m}`).sort());
    expect(selected(v5).sort()).toEqual(studio.map((m) => `model.language_model.${m}`).sort());
    expect(linear.some((n) => n.startsWith('vision_tower.') && n.endsWith('.q_proj'))).toBe(true);
  });

  it("shares the run's pairs per update among the job's processes, or says why it cannot", (ctx) => {
    const missing = python('numpy');
    if (missing) ctx.skip(missing);
    const layout = (args: string) => py(`import sys; sys.path.insert(0, ${JSON.stringify(join(dir, 'trl-job'))}); from isr_job import batch_layout; print(batch_layout(${args}))`).toString().trim();
    expect([layout('4, None, 2'), layout('4, None, 1'), layout('1, 3, 2')]).toEqual(['(2, 1, 4)', '(4, 1, 4)', '(3, 1, 6)']);
    expect(() => layout('2, None, 4')).toThrow(/the run trains 2 pairs per update, which 4 processes cannot share evenly/);
  });

  it("reads, in the job's Python, the very frames the studio reads at the job's frame times", async (ctx) => {
    const missing = python('numpy');
    if (missing) ctx.skip(missing);
    const job = join(dir, 'trl-job');
    const row = JSON.parse(readFileSync(join(job, 'pairs.jsonl'), 'utf8').split('\n')[0]) as { video: string; frame_times: number[] };
    const got = py(`import sys; sys.path.insert(0, ${JSON.stringify(job)}); from isr_job import read_frames, resolve_video\nsys.stdout.buffer.write(read_frames(resolve_video(${JSON.stringify(job)}, ${JSON.stringify(row.video)}), ${JSON.stringify(row.frame_times)}).tobytes())`, { FFMPEG_PATH: ffmpeg });
    const studio = Buffer.concat(await Promise.all(row.frame_times.map(async (t) => Buffer.from((await frameAt(ffmpeg, join(job, row.video), t)).data))));
    expect(got.length).toBe(2 * 32 * 32 * 3);
    expect(got.equals(studio)).toBe(true);
  });

  it('refuses an adapter that does not fit, naming the mismatch, and stores nothing', async () => {
    const r = round1(outside);
    const studioAdapter = join(roundDir(runsDir(), studio, 1), 'adapter');
    const refused = async (adapterDir: string) => importAdapter(db, { runId: outside, round: 1, adapterDir, runsDir: runsDir() });

    // Rank 4 where the run trains rank 2.
    const config = readModelConfig(model());
    const shapes = openCheckpoint(model());
    const factors = new Map(decoderLinearModules(config).filter((m) => isLoraTarget(m, parseRunSettings({}).train.loraTargets)).map((m) => {
      const [outF, inF] = shapes.info(`language_model.${m}.weight`).shape;
      return [m.slice('model.'.length), { a: { dims: [inF, 4], data: new Float32Array(inF * 4).fill(0.01) }, b: { dims: [4, outF], data: new Float32Array(4 * outF).fill(0.01) } }];
    }));
    shapes.close();
    writeAdapter(join(dir, 'rank4'), { config: { r: 4, alpha: 4, dropout: 0, targets: parseRunSettings({}).train.loraTargets }, factors, baseModel: model(), taskType: 'CAUSAL_LM' }, 'language_model.model.');
    await expect(refused(join(dir, 'rank4'))).rejects.toThrow(/does not fit round 1 of run \d+ .*:\n {2}its rank r is 4, expected 2$/s);

    // The studio's own adapter, said to be trained on another base model.
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    copyFileSync(join(studioAdapter, ADAPTER_WEIGHTS), join(elsewhere, ADAPTER_WEIGHTS));
    const cfg = JSON.parse(readFileSync(join(studioAdapter, ADAPTER_CONFIG), 'utf8'));
    writeFileSync(join(elsewhere, ADAPTER_CONFIG), JSON.stringify({ ...cfg, base_model_name_or_path: '/cluster/models/other' }));
    await expect(refused(elsewhere)).rejects.toThrow(`its base model is /cluster/models/other, not round 1's policy ${model()} (and it has no isr_studio.json): if that folder is a copy of the policy, --assume-base accepts it`);
    // ... and from a job made for another run.
    writeFileSync(join(elsewhere, 'isr_studio.json'), JSON.stringify({ run: 99, round: 1, policy_fingerprint: 'x' }));
    await expect(refused(elsewhere)).rejects.toThrow('its job (isr_studio.json) trained round 1 of run 99');
    await expect(refused(join(dir, 'no-such-adapter'))).rejects.toThrow(/holds no adapter_config\.json/);

    expect([round1(outside).outputModelId, outsideWorkOf(db, r.id), existsSync(join(roundDir(runsDir(), outside, 1), 'model'))]).toEqual([null, [], false]);
  });

  it("takes the studio's own PEFT adapter as the round's output, merged to the bytes of the studio's merge, and the run goes on to the same evaluation", async () => {
    const studioRound = roundDir(runsDir(), studio, 1);
    // As train_dpo.py leaves it on the cluster: the adapter naming the cluster's copy of the policy,
    // the job's marker, and its logged steps (TRL's last log, the run's summary, has no loss).
    const output = join(dir, 'trl-job', 'output');
    mkdirSync(output);
    copyFileSync(join(studioRound, 'adapter', ADAPTER_WEIGHTS), join(output, ADAPTER_WEIGHTS));
    writeFileSync(join(output, ADAPTER_CONFIG), JSON.stringify({ ...JSON.parse(readFileSync(join(studioRound, 'adapter', ADAPTER_CONFIG), 'utf8')), base_model_name_or_path: '/cluster/job/policy' }));
    const fingerprint = db.prepare('SELECT fingerprint FROM models WHERE id = ?').pluck().get(round1(outside).policyModelId) as string;
    writeFileSync(join(output, 'isr_studio.json'), JSON.stringify({ run: outside, round: 1, policy_fingerprint: fingerprint }));
    writeFileSync(join(output, 'metrics.jsonl'), [
      { step: 1, epoch: 0.5, loss: 0.69, 'rewards/margins': 0, 'rewards/accuracies': 0, learning_rate: 0.01 },
      { step: 2, epoch: 1, loss: 0.6, 'rewards/margins': 0.2, 'rewards/accuracies': 1, learning_rate: 0.005 },
      { step: 2, epoch: 1, train_runtime: 12.5, train_loss: 0.65 },
    ].map((m) => JSON.stringify(m)).join('\n'));
    const done = await importAdapter(db, { runId: outside, round: 1, adapterDir: output, runsDir: runsDir() });
    expect([done.steps, done.modules]).toEqual([2, decoderLinearModules(readModelConfig(model())).length]);
    expect(db.prepare('SELECT step, epoch, metrics FROM train_steps WHERE round_id = ? ORDER BY step').all(round1(outside).id)).toEqual([
      { step: 1, epoch: 0.5, metrics: JSON.stringify({ loss: 0.69, 'rewards/margins': 0, 'rewards/accuracies': 0, learning_rate: 0.01 }) },
      { step: 2, epoch: 1, metrics: JSON.stringify({ loss: 0.6, 'rewards/margins': 0.2, 'rewards/accuracies': 1, learning_rate: 0.005 }) },
    ]);
    const r = round1(outside);
    expect(modelPath(db, r.outputModelId!)).toBe(done.model);
    expect(done.model).toBe(join(roundDir(runsDir(), outside, 1), 'model'));
    const [mine, theirs] = [tensors(done.model), tensors(join(studioRound, 'model'))];
    expect([...mine.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [name, bytes] of theirs) expect(mine.get(name)!.equals(bytes), name).toBe(true);
    expect(outsideWorkOf(db, r.id)).toEqual([expect.objectContaining({ step: 'training', source: output, detail: expect.objectContaining({ r: 2, loraAlpha: 4, baseModel: '/cluster/job/policy', job: true, steps: 2 }) })]);
    // A second adapter for the same round is refused.
    await expect(importAdapter(db, { runId: outside, round: 1, adapterDir: join(studioRound, 'adapter'), runsDir: runsDir() })).rejects.toThrow('round 1 of run 2 is already trained');

    const resumed = await runRounds(outside, env());
    expect(resumed.awaitingOutside).toBeNull();
    expect(round1(outside).phase).toBe('done');
    expect(evaluations(outside)).toEqual(evaluations(studio));
    expect(evaluations(outside).length).toBe(questions.length);
    const summary = summarise(db, round1(outside), parseRunSettings(getRun(db, outside)!.settings));
    expect(summary.outside).toEqual([{ step: 'training', source: output, importedAt: expect.any(String) }]);
    expect(summary.steps).toBe(2);
    expect(summarise(db, round1(studio), parseRunSettings(getRun(db, studio)!.settings)).outside).toEqual([]);
  }, 240_000);
});

describe('a round sampled outside the studio', () => {
  let sampled: number;
  const studio = 1;

  it('stops before sampling and exports a vllm-job of every prompt with its seed, frames and rendered chat', async () => {
    sampled = await newRun({ seed: 5, outside: { responses: true } });
    expect(await runRounds(sampled, env())).toEqual({ rounds: [], awaitingReview: null, awaitingOutside: { round: 1, step: 'responses' } });
    expect([round1(sampled).phase, responsesOf(db, round1(sampled).id)]).toEqual(['responses', []]);
    // The trl-job of a round that has not reached training is refused.
    expect(() => writeTrlJob(db, { runId: sampled, round: 1, out: join(dir, 'too-early'), launch: { gpus: 1, zeroStage: 0 }, placement: { copyVideos: false, copyModel: false } })).toThrow(/has no final pairs yet \(it is at its responses phase\)/);

    const job = join(dir, 'vllm-job');
    writeVllmJob(db, { runId: sampled, round: 1, out: job, placement: { copyVideos: false, copyModel: true } });
    const rows = readFileSync(join(job, 'prompts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const prompts = db.prepare('SELECT id, row_id, question, video_id FROM prompts WHERE dataset_id = ? ORDER BY line').all(datasetId) as { id: number; row_id: string; question: string; video_id: number }[];
    expect(rows.map((r) => r.prompt_id)).toEqual(prompts.map((p) => p.id));
    for (const [i, p] of prompts.entries()) {
      const video = getVideo(db, p.video_id)!;
      expect(rows[i]).toMatchObject({ row_id: p.row_id, question: p.question, video: video.path, frame_times: uniformFrameTimes(video, 2), seed: responseSeed({ runSeed: 5, round: 1, promptId: p.id, sample: 0, attempt: 0 }) });
      expect(rows[i].messages).toEqual([{ role: 'user', content: [{ type: 'video' }, { type: 'text', text: p.question }] }]);
      expect(rows[i].prompt_text).toContain(p.question);
    }
    const spec = JSON.parse(readFileSync(join(job, 'job.json'), 'utf8'));
    expect(spec).toMatchObject({ format: 'vllm-job', modality: 'video', placeholder: { text: '<video>', per_prompt: 1 }, policy: { path: 'policy' }, sampling: { n: 2, temperature: 0.7, top_p: 0.9, max_tokens: 4, stop_token_ids: ModelTokenizer.load(model()).stopTokenIds() } });
    // The policy travels with the job.
    expect(readFileSync(join(job, 'policy', 'model.safetensors')).equals(readFileSync(join(model(), 'model.safetensors')))).toBe(true);
  }, 120_000);

  it('compiles its script', (ctx) => {
    const missing = python();
    if (missing) ctx.skip(missing);
    py(`import py_compile\nfor f in ["generate_vllm.py", "isr_job.py"]: py_compile.compile(${JSON.stringify(join(dir, 'vllm-job'))} + "/" + f, doraise=True)`);
  });

  it('refuses responses that are not the whole round, naming each bad row, and stores none', () => {
    const r = round1(sampled);
    const prompts = db.prepare('SELECT id FROM prompts WHERE dataset_id = ? ORDER BY line').pluck().all(datasetId) as number[];
    const line = (value: object, i: number) => ({ place: `line ${i + 1}`, value });
    const rows = [
      { prompt_id: prompts[0], sample: 0, text: 'red' }, { prompt_id: prompts[0], sample: 1, text: 'blue' },
      { prompt_id: prompts[0], sample: 1, text: 'again' }, { prompt_id: 9999, sample: 0, text: 'x' }, { prompt_id: prompts[1], sample: 2, text: 'x' },
      { prompt_id: prompts[1], sample: 0 },
    ].map(line);
    expect(() => importResponses(db, { runId: sampled, round: 1, file: '/jobs/responses.jsonl', rows })).toThrow(
      `/jobs/responses.jsonl: 5 problems, nothing imported:\n` +
        `  line 3: prompt ${prompts[0]} sample 1 is also on line 2\n` +
        `  line 4: prompt_id 9999 is not a prompt of round 1 of run ${sampled} (its dataset's prompts are ids ${prompts[0]} to ${prompts[2]})\n` +
        `  line 5: sample 2 is past the run's 2 samples per prompt (0 to 1)\n` +
        `  line 6: text is missing\n` +
        `  4 of the round's 6 responses are missing: prompt ${prompts[1]} (row q1) sample 0, prompt ${prompts[1]} (row q1) sample 1, prompt ${prompts[2]} (row q2) sample 0, ...`,
    );
    expect([responsesOf(db, r.id), outsideWorkOf(db, r.id)]).toEqual([[], []]);
  });

  it('stores the responses brought back, and the resumed run judges them as the studio judged its own', async () => {
    const mine = responsesOf(db, round1(studio).id);
    const rows = mine.map((x, i) => ({ place: `line ${i + 1}`, value: { prompt_id: x.promptId, sample: x.sample, text: x.text, token_count: x.tokenCount, seed: x.seed, finish_reason: 'stop' } }));
    expect(importResponses(db, { runId: sampled, round: 1, file: '/jobs/responses.jsonl', rows })).toEqual({ responses: mine.length, prompts: questions.length });
    const stored = (runId: number) => responsesOf(db, round1(runId).id).map(({ promptId, sample, text, tokenCount, seed }) => ({ promptId, sample, text, tokenCount, seed }));
    expect(stored(sampled)).toEqual(stored(studio));
    expect(() => importResponses(db, { runId: sampled, round: 1, file: '/jobs/responses.jsonl', rows })).toThrow('round 1 of run 3 already took its responses from outside');

    const done = await runRounds(sampled, env());
    expect(done.awaitingOutside).toBeNull();
    // Its own sampling (seed 5) would have drawn other responses: those judged are the imported ones.
    const verdicts = (runId: number) => db.prepare(
      `SELECT ra.prompt_id, ra.sample AS a, rb.sample AS b, j.shown_first, j.p_first FROM judgments j
       JOIN responses ra ON ra.id = j.response_a_id JOIN responses rb ON rb.id = j.response_b_id WHERE j.round_id = ? ORDER BY 1, 2, 4`,
    ).all(round1(runId).id);
    expect(verdicts(sampled)).toHaveLength(2 * questions.length);
    expect(verdicts(sampled)).toEqual(verdicts(studio));
    expect(db.prepare('SELECT prompt_id, p_a, judge_choice FROM pairs WHERE round_id = ? ORDER BY 1').all(round1(sampled).id))
      .toEqual(db.prepare('SELECT prompt_id, p_a, judge_choice FROM pairs WHERE round_id = ? ORDER BY 1').all(round1(studio).id));
    expect(round1(sampled).phase).toBe('done');
    expect(summarise(db, round1(sampled), parseRunSettings(getRun(db, sampled)!.settings)).outside).toEqual([
      { step: 'responses', source: '/jobs/responses.jsonl', importedAt: expect.any(String) },
    ]);
  }, 240_000);
});
