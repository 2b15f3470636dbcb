import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from '../src/main/video/ffmpeg';
import { flatClip } from '../src/main/video/testing/clips';
import { runCli } from './cli';

let dir: string;
let model: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-cli-train-'));
  model = join(dir, 'model');
  const ffmpeg = (await resolveFfmpeg()).path;
  await flatClip(ffmpeg, join(dir, 'red.mp4'), Array(4).fill([220, 30, 30]), { width: 32, height: 32, fps: 4 });
  await flatClip(ffmpeg, join(dir, 'blue.mp4'), Array(4).fill([30, 30, 220]), { width: 32, height: 32, fps: 4 });
  expect((await runCli(['fixture', '--arch', 'idefics3', '--out', model, '--seed', '3'])).code).toBe(0);
  const rows = [
    { prompt: 'What colour is the square?', chosen: 'red', rejected: 'blue', video: 'red.mp4' },
    { prompt: 'What colour is the square?', chosen: 'blue', rejected: 'red', video: 'blue.mp4' },
    { prompt: 'How many shapes are in the video?', chosen: 'one', rejected: 'three' },
    { prompt: 'Which way does it move?', chosen: 'left', rejected: 'right', video: 'red.mp4' },
  ];
  writeFileSync(join(dir, 'pairs.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
}, 60_000);

const train = (out: string, ...extra: string[]) =>
  runCli(['train', '--model', model, '--pairs', join(dir, 'pairs.jsonl'), '--out', out, '--frames', '2', '--cache', join(dir, 'cache'),
    '--epochs', '4', '--batch-size', '2', '--lr', '0.02', '--lora-r', '4', '--lora-alpha', '8', '--warmup-ratio', '0', ...extra]);

/** The modules_to_save of the adapter a run in `out` wrote. */
const modulesToSave = (out: string): string[] => (JSON.parse(readFileSync(join(out, 'adapter/adapter_config.json'), 'utf8')) as { modules_to_save: string[] }).modules_to_save;

/** The tensor names in the adapter a run in `out` wrote (its safetensors header). */
function adapterKeys(out: string): string[] {
  const header = readFileSync(join(out, 'adapter/adapter_model.safetensors'));
  return Object.keys(JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString('utf8')) as object);
}

describe('isr-studio train', () => {
  it('trains with DPO, printing TRL metrics per step, and writes adapter, merged model, metrics and summary', async () => {
    const out = join(dir, 'run');
    const result = await train(out);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('reference log-probs of 4 pairs...');
    expect(result.stdout).toMatch(/step 1\/8 epoch 0\.50 loss=0\.693\d rewards\/chosen=/);
    expect(result.stdout).toContain('rewards/accuracies=');
    expect(result.stdout).toContain('trained 8 steps on 4 examples');
    for (const f of ['adapter/adapter_model.safetensors', 'adapter/adapter_config.json', 'merged/model.safetensors', 'merged/config.json', 'merged/tokenizer.json', 'reference_logps.json', 'summary.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(steps.at(-1)!['rewards/accuracies']).toBe(1);
    expect(steps.at(-1)!.loss).toBeLessThan(steps[0].loss);
    const adapterConfig = JSON.parse(readFileSync(join(out, 'adapter/adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(adapterConfig).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, base_model_name_or_path: model });

    // The same command again finds the run finished and changes nothing.
    const again = await train(out);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain('step 1/8');
    // The reference log-probs are read back from reference_logps.json, not computed again.
    expect(again.stdout).not.toContain('reference log-probs');
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(8);

    // The merged folder is a model the studio loads and answers with.
    const answer = await runCli(['generate', '--model', join(out, 'merged'), '--video', join(dir, 'red.mp4'), '--prompt', 'What colour is the square?', '--frames', '2', '--cache', join(dir, 'cache'), '--max-new-tokens', '3']);
    expect(answer.code).toBe(0);
  }, 120_000);

  it('trains the connector too with --train-projector, saving it as PEFT modules_to_save', async () => {
    const out = join(dir, 'projector-run');
    const result = await train(out, '--train-projector', '--epochs', '1');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(modulesToSave(out)).toEqual(['connector']);
    expect(adapterKeys(out)).toContain('base_model.model.model.connector.modality_projection.proj.weight');
  }, 120_000);

  it('trains the embeddings and head too with --train-embeddings, saving them as PEFT modules_to_save', async () => {
    const out = join(dir, 'embeddings-run');
    const result = await train(out, '--train-embeddings', '--epochs', '1');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(modulesToSave(out)).toEqual(['embed_tokens', 'lm_head']);
    expect(adapterKeys(out).filter((k) => !k.includes('lora_') && k !== '__metadata__').sort()).toEqual(['base_model.model.lm_head.weight', 'base_model.model.model.text_model.embed_tokens.weight']);
  }, 120_000);

  it("takes TRL's loss_type values for --loss, sigmoid by default, and not the name dpo", async () => {
    const result = await runCli(['train', '--model', model, '--pairs', join(dir, 'pairs.jsonl'), '--out', join(dir, 'dpo-run'), '--loss', 'dpo']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('expected one of sigmoid, ipo, hinge, robust, sft');
    const help = await runCli(['train', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain(`--loss <kind> TRL's loss_type: sigmoid, ipo, hinge, robust, sft (default: "sigmoid")`);
  });

  it('refuses a file with bad rows, naming each by line, before loading the model', async () => {
    writeFileSync(join(dir, 'bad.jsonl'), [JSON.stringify({ prompt: 'q', chosen: 'a' }), '{oops', JSON.stringify({ prompt: 'q', chosen: 'a', rejected: 'b' })].join('\n'));
    const result = await runCli(['train', '--model', model, '--pairs', join(dir, 'bad.jsonl'), '--out', join(dir, 'bad-run')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('2 bad rows:');
    expect(result.stderr).toContain('line 1: rejected is missing');
    expect(result.stderr).toContain('line 2 is not valid JSON');
  });

  it('cuts a response too long for max_completion_length, saying so for its row, and trains', async () => {
    const long = Array.from({ length: 6000 }, (_, i) => ['red', 'blue', 'square'][i % 3]).join(' ');
    writeFileSync(join(dir, 'long.jsonl'), [JSON.stringify({ prompt: 'What colour is the square?', chosen: long, rejected: 'blue', video: 'red.mp4' }), JSON.stringify({ prompt: 'Which colour?', chosen: 'red', rejected: 'blue' })].join('\n'));
    const out = join(dir, 'long-run');
    const result = await runCli(['train', '--model', model, '--pairs', join(dir, 'long.jsonl'), '--out', out, '--frames', '2', '--cache', join(dir, 'cache'), '--epochs', '1', '--max-completion-length', '32']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^line 1: chosen cut from [\d,]+ to 32 tokens \(max_completion_length\)$/m);
    expect(result.stdout).not.toMatch(/^line 2:/m);
    expect(existsSync(join(out, 'adapter', 'adapter_model.safetensors'))).toBe(true);
  }, 120_000);

  it('refuses a row whose video is a folder or missing, naming the file and the row', async () => {
    writeFileSync(join(dir, 'folder-video.jsonl'), [JSON.stringify({ prompt: 'q', chosen: 'a', rejected: 'b', video: 'red.mp4' }), JSON.stringify({ prompt: 'q', chosen: 'a', rejected: 'b', video: '.' })].join('\n'));
    const result = await runCli(['train', '--model', model, '--pairs', join(dir, 'folder-video.jsonl'), '--out', join(dir, 'folder-run'), '--frames', '2', '--cache', join(dir, 'cache')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe(`isr-studio: ${join(dir, 'folder-video.jsonl')} line 2: video file is a folder, not a file: ${dir}`);
  }, 60_000);
});
