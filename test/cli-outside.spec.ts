// A round's responses and training done outside the studio, from the command line (docs/scale.md):
// a run that hands both steps outside stops for each, exports the job, takes the result back and
// goes on; a mismatched adapter is refused in one line naming what differs.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../src/main/engine/graph/safetensors';
import { readModelConfig } from '../src/main/engine/model/config';
import { writeFixture } from '../src/main/engine/model/fixture';
import { decoderLinearModules, isLoraTarget, writeAdapter } from '../src/main/engine/train/lora';
import { resolveFfmpeg } from '../src/main/video/ffmpeg';
import { flatClip } from '../src/main/video/testing/clips';
import { runCli } from './cli';

let dir: string;
const db = () => join(dir, 'studio.db');
const config = { samples: 2, maxNewTokens: 4, frames: 2, tieBand: [0.5, 0.5], train: { epochs: 1, batchSize: 1, lr: 0.01, loraR: 2, loraAlpha: 4 }, outside: { responses: true, training: true } };
const questions = ['What colour is the square?', 'Is the square red?', 'Which colour fills the frame?'];

/** A PEFT adapter of rank `r` over every decoder layer the default targets select, trained (it says) from `base`. */
function adapter(out: string, r: number, base: string): string {
  const model = join(dir, 'model');
  const cfg = readModelConfig(model);
  const shapes = openCheckpoint(model);
  const targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  const factors = new Map(decoderLinearModules(cfg).filter((m) => isLoraTarget(m, targets)).map((m) => {
    const [outF, inF] = shapes.info(`language_model.${m}.weight`).shape;
    return [m.slice('model.'.length), { a: { dims: [inF, r], data: new Float32Array(inF * r).fill(0.02) }, b: { dims: [r, outF], data: new Float32Array(r * outF).fill(0.01) } }];
  }));
  shapes.close();
  writeAdapter(join(dir, out), { config: { r, alpha: 4, dropout: 0, targets }, factors, baseModel: base, taskType: 'CAUSAL_LM' }, 'language_model.model.');
  return join(dir, out);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-cli-outside-'));
  const ffmpeg = (await resolveFfmpeg()).path;
  await flatClip(ffmpeg, join(dir, 'red.mp4'), Array(4).fill([220, 30, 30]), { width: 32, height: 32, fps: 4 });
  await flatClip(ffmpeg, join(dir, 'blue.mp4'), Array(4).fill([30, 30, 220]), { width: 32, height: 32, fps: 4 });
  writeFixture(join(dir, 'model'), { arch: 'llava-onevision', size: 'tiny', seed: 4, corpus: [...questions, 'red blue square'] });
  writeFileSync(join(dir, 'data.jsonl'), questions.map((question, i) => JSON.stringify({ id: `q${i}`, video: i % 2 === 0 ? 'red.mp4' : 'blue.mp4', question, answer: i % 2 === 0 ? 'red' : 'blue' })).join('\n'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
}, 120_000);

describe('isr-studio with steps outside the studio', () => {
  it('stops for the responses, exports a vllm-job and takes the responses back', async () => {
    const run = await runCli(['run', '--db', db(), '--model', join(dir, 'model'), '--data', join(dir, 'data.jsonl'), '--rounds', '1', '--mode', 'no-context', '--config', join(dir, 'config.json')]);
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect(run.stdout).toContain('run 1: round 1 awaits its responses from outside the studio (run settings outside.responses)');
    expect(run.stdout).toContain(`isr-studio export --db ${db()} --run 1 --round 1 --format vllm-job --out DIR`);

    const exported = await runCli(['export', '--db', db(), '--run', '1', '--round', '1', '--format', 'vllm-job', '--out', join(dir, 'vllm'), '--no-copy-videos', '--no-copy-model']);
    expect([exported.code, exported.stderr]).toEqual([0, '']);
    expect(exported.stdout).toBe(`wrote a vllm-job of run 1 round 1 (3 prompts) to ${join(dir, 'vllm')}: see its README.md\n`);
    const prompts = readFileSync(join(dir, 'vllm', 'prompts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt_id: number; video: string; seed: number });
    expect(prompts.map((p) => p.video)).toEqual([join(dir, 'red.mp4'), join(dir, 'blue.mp4'), join(dir, 'red.mp4')]);
    expect(JSON.parse(readFileSync(join(dir, 'vllm', 'job.json'), 'utf8')).policy.path).toBe(join(dir, 'model'));

    // What generate_vllm.py writes: n rows per prompt.
    const rows = prompts.flatMap((p) => [0, 1].map((sample) => ({ prompt_id: p.prompt_id, sample, text: sample === 0 ? 'red' : 'a blue square', token_count: sample + 1, seed: p.seed, finish_reason: 'stop' })));
    writeFileSync(join(dir, 'vllm', 'responses.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
    const imported = await runCli(['import-responses', '--db', db(), '--run', '1', '--round', '1', '--file', join(dir, 'vllm', 'responses.jsonl')]);
    expect([imported.code, imported.stderr]).toEqual([0, '']);
    expect(imported.stdout).toBe(`stored 6 responses to 3 prompts as round 1's responses\ngo on with: isr-studio run --db ${db()} --resume 1\n`);
  }, 180_000);

  it('judges them, stops for the training, exports a trl-job, refuses a mismatched adapter in one line and takes a fitting one', async () => {
    const resumed = await runCli(['run', '--db', db(), '--resume', '1']);
    expect([resumed.code, resumed.stderr]).toEqual([0, '']);
    expect(resumed.stdout).toContain('run 1: round 1 awaits its training from outside the studio (run settings outside.training)');

    const exported = await runCli(['export', '--db', db(), '--run', '1', '--round', '1', '--format', 'trl-job', '--out', join(dir, 'trl'), '--gpus', '2', '--zero-stage', '0']);
    expect(exported.code).toBe(0);
    // One pair per update cannot be shared by two processes: said at export, not first on the cluster.
    expect(exported.stderr).toBe('isr-studio: note: the run trains 1 pair per update, which the 2 processes of accelerate.yaml cannot share evenly: train_dpo.py stops unless launched with a process count dividing 1 (accelerate launch --num_processes N), or given --per-device-batch-size (then each update sees that many pairs per process, not the run\'s 1)\n');
    expect(readFileSync(join(dir, 'trl', 'README.md'), 'utf8')).toContain('**Note:** the run trains 1 pair per update');
    expect(exported.stdout).toMatch(/^wrote a trl-job of run 1 round 1 \(\d+ pairs\) to /);
    const accelerate = readFileSync(join(dir, 'trl', 'accelerate.yaml'), 'utf8');
    expect(accelerate).toContain('distributed_type: MULTI_GPU\n');
    expect(accelerate).toContain('num_processes: 2\n');
    expect(accelerate).not.toContain('deepspeed_config');
    const rows = readFileSync(join(dir, 'trl', 'pairs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { chosen: { content: { text: string }[] }[]; video: string });
    for (const row of rows) expect(['red', 'a blue square']).toContain(row.chosen[0].content[0].text);
    expect(rows.every((r) => r.video.startsWith('videos/'))).toBe(true);

    const bad = await runCli(['import-adapter', '--db', db(), '--run', '1', '--round', '1', '--adapter', adapter('rank4', 4, join(dir, 'model'))]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^isr-studio: adapter \S+rank4 does not fit round 1 of run 1 \(policy .*\):\n {2}its rank r is 4, expected 2\n$/);

    const good = adapter('rank2', 2, '/cluster/jobs/run-1-round-1/policy');
    const foreign = await runCli(['import-adapter', '--db', db(), '--run', '1', '--round', '1', '--adapter', good]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain(`its base model is /cluster/jobs/run-1-round-1/policy, not round 1's policy ${join(dir, 'model')}`);
    const taken = await runCli(['import-adapter', '--db', db(), '--run', '1', '--round', '1', '--adapter', good, '--assume-base']);
    expect([taken.code, taken.stderr]).toEqual([0, '']);
    const layers = decoderLinearModules(readModelConfig(join(dir, 'model'))).length;
    expect(taken.stdout).toContain(`merged the adapter (${layers} modules, 0 logged steps) as round 1's output policy: ${db()}.runs/run-1/round-1/model`);

    const finished = await runCli(['run', '--db', db(), '--resume', '1']);
    expect([finished.code, finished.stderr]).toEqual([0, '']);
    expect(finished.stdout).toMatch(/round 1 done: \d+ pairs? trained on/);
    expect(finished.stdout).toContain('run 1 done: 1 round\n');

    // The default format is the pairs JSONL it always was.
    const pairs = await runCli(['export', '--db', db(), '--run', '1', '--round', '1', '--out', join(dir, 'pairs.jsonl')]);
    expect(pairs.code).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(join(dir, 'pairs.jsonl'), 'utf8').split('\n')[0])).sort()).toEqual(['chosen', 'pair_id', 'prompt', 'rejected', 'video']);
  }, 240_000);
});
