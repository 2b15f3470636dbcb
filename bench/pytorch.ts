// A DPO update on the studio's engine against the same update in plain PyTorch (bench/pytorch_dpo.py):
// the `small` fixture's decoder, the same starting LoRA factors, examples, batch order, learning
// rates and reference log-probs, at equal threads; the runs take turns. The losses of every update
// must agree, or the comparison is void and the benchmark fails.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModelConfig } from '../src/main/engine/model/config';
import { textWeightNames } from '../src/main/engine/model/decoder';
import { writeFixture } from '../src/main/engine/model/fixture';
import { LanguageModel } from '../src/main/engine/model/language-model';
import { openWeights } from '../src/main/engine/model/weights';
import { defaultTrainConfig, type TrainConfig, type TrainExample } from '../src/main/engine/train/train-config';
import { Trainer } from '../src/main/engine/train/trainer';
import { demoCorpus } from '../src/main/demo/data/corpus';
import { BenchSkipped } from './skip';
import { median } from './stats';

/** The Python with PyTorch: ISR_BENCH_PYTHON, or python3 on the PATH. */
const python = process.env.ISR_BENCH_PYTHON ?? 'python3';
const script = join(dirname(fileURLToPath(import.meta.url)), 'pytorch_dpo.py');

const cases: { seq: number; checkpointing: boolean; threads: number }[] = [
  { seq: 128, checkpointing: true, threads: 1 },
  { seq: 256, checkpointing: true, threads: 1 },
  { seq: 128, checkpointing: false, threads: 1 },
  { seq: 256, checkpointing: false, threads: 1 },
  { seq: 256, checkpointing: true, threads: 2 },
];
const updates = 8;
const repeats = 3;
/** Losses of the two sides must agree to this (absolute; a loss is about ln 2 here), and the reference
 *  log-probs PyTorch computes itself to the second (relative): float32 sums over a few hundred tokens. */
const lossTolerance = 1e-4;
const referenceTolerance = 1e-5;

interface Run {
  /** Seconds of the updates after the first. */
  steady: number[];
  losses: number[];
}

const spread = (xs: number[]) => `${median(xs).toFixed(3)} (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})`;

/** PyTorch's BLAS pools sized as its intra-op threads, so that each side has the same number of threads. */
const torchEnv = (threads: number) => ({ ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) });

/** PyTorch's version and the BLAS library its matrix multiplies load (Debian's generic build takes libblas.so.3's alternative). */
function torchVersion(): { version: string; blas: string } {
  const probe = 'import torch, os; torch.ones(64, 64) @ torch.ones(64, 64); print(torch.__version__); print(" ".join(sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l})) or "unknown")';
  const r = spawnSync(python, ['-c', probe], { encoding: 'utf8', env: torchEnv(1) });
  if (r.status !== 0) throw new BenchSkipped(`no PyTorch for ${python} (install Debian's python3-torch with libopenblas0-openmp, or set ISR_BENCH_PYTHON to a Python that has torch)`);
  const [version, blas] = r.stdout.trim().split('\n');
  if (/\/blas\/libblas/.test(blas)) throw new BenchSkipped(`PyTorch loads the reference BLAS (${blas}), which is tens of times slower than any real one: install libopenblas0-openmp`);
  // OpenBLAS's own pthread pool spins beside PyTorch's OpenMP threads: at 2 threads on 2 cores it made
  // a softmax 2.6x slower and an update slower than at one thread, a handicap no user would keep.
  if (/pthread/.test(blas) && cases.some((c) => c.threads > 1)) throw new BenchSkipped(`PyTorch loads OpenBLAS's pthread build (${blas}), whose threads contend with PyTorch's OpenMP threads: select the OpenMP build (Debian: libopenblas0-openmp, then update-alternatives --config for libblas.so.3, liblapack.so.3 and libopenblas.so.0)`);
  return { version, blas: [...new Set(blas.split(' ').map((lib) => (lib.startsWith('/') ? realpathSync(lib) : lib)))].join(', ') };
}

function runTorch(jobDir: string, threads: number): Run & { reference: number[] } {
  const r = spawnSync(python, [script, jobDir], { encoding: 'utf8', maxBuffer: 1 << 26, env: torchEnv(threads) });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}):\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const steps = lines.filter((l) => 'step' in l);
  return { reference: lines.find((l) => 'reference' in l).reference, losses: steps.map((l) => l.loss), steady: steps.slice(1).map((l) => l.seconds) };
}

export async function pytorchSection(machine: string): Promise<string> {
  const { version, blas } = torchVersion();
  const dir = mkdtempSync(join(tmpdir(), 'isr-bench-pytorch-'));
  const rows: string[] = [];
  let vocab = 0;
  try {
    writeFixture(join(dir, 'model'), { arch: 'llava-onevision', size: 'small', seed: 1, corpus: demoCorpus() });
    const config = readModelConfig(join(dir, 'model'));
    vocab = config.text.vocabSize;
    const weights = openWeights(join(dir, 'model'), config);
    const lm = new LanguageModel(config, weights);
    try {
      for (const { seq, checkpointing, threads } of cases) {
        const ids = (n: number, k: number) => Array.from({ length: n }, (_, i) => (i * 7919 + k * 104729) % config.text.vocabSize);
        const examples: TrainExample[] = Array.from({ length: 2 * updates }, (_, k) => ({ prompt: ids(seq / 2, k), chosen: ids(seq / 2, k + 100), rejected: ids(seq / 2, k + 200) }));
        const settings: TrainConfig = { ...defaultTrainConfig, epochs: 1, batchSize: 2, warmupRatio: 0, gradientCheckpointing: checkpointing };
        const trainer = (stateDir: string) => Trainer.create({ config, weights, lm }, examples, settings, stateDir, { intraOpThreads: threads });
        const reference = await trainer(mkdtempSync(join(dir, 'state-'))).referenceLogps();
        // The state a fresh run starts from (factors and order), taken without an update.
        const start = await trainer(mkdtempSync(join(dir, 'state-'))).train({ reference, stopAfter: 0 });

        const studio = async (): Promise<Run & { lrs: number[] }> => {
          const steps: { s: number; loss: number; lr: number }[] = [];
          let t0 = performance.now();
          await trainer(mkdtempSync(join(dir, 'state-'))).train({ reference, saveEvery: 1000, onStep: (m) => {
            const now = performance.now();
            steps.push({ s: (now - t0) / 1000, loss: m.loss, lr: m.learning_rate });
            t0 = now;
          } });
          return { steady: steps.slice(1).map((x) => x.s), losses: steps.map((x) => x.loss), lrs: steps.map((x) => x.lr) };
        };
        const first = await studio();
        const jobDir = mkdtempSync(join(dir, 'job-'));
        writeJob(jobDir, {
          threads, settings, examples, reference, lrs: first.lrs, order: start.order,
          params: Object.entries(start.params).map(([name, t]) => ({ name, dims: [...t.dims], data: t.data })),
          model: { config, weightsFile: join(dir, 'model', 'model.safetensors'), ...textWeightNames(config) },
        });
        const ours: Run[] = [first];
        const theirs: (Run & { reference: number[] })[] = [];
        for (let r = 0; r < repeats; r++) {
          // In turns, each side first as often as the other.
          const sides = [async () => theirs.push(runTorch(jobDir, threads)), async () => ours.push(await studio())];
          for (const side of r % 2 === 0 ? sides : sides.reverse()) await side();
        }
        if (theirs.some((t) => t.losses.length !== updates || t.reference.length !== reference.length)) throw new Error(`seq ${seq}: PyTorch ran ${theirs.map((t) => t.losses.length).join(', ')} updates, not ${updates} each, or returned a reference of another size`);
        const lossDiff = Math.max(...theirs.flatMap((t) => t.losses.map((l, i) => Math.abs(l - first.losses[i]))));
        const refDiff = Math.max(...theirs[0].reference.map((x, i) => Math.abs(x - reference[i]) / Math.max(1, Math.abs(reference[i]))));
        if (!(lossDiff <= lossTolerance && refDiff <= referenceTolerance)) {
          throw new Error(`seq ${seq}: PyTorch computed other numbers: losses ${lossDiff} apart (studio ${first.losses.join(', ')}; PyTorch ${theirs[0].losses.join(', ')}), reference log-probs ${refDiff} apart (relative)`);
        }
        const a = ours.flatMap((x) => x.steady);
        const b = theirs.flatMap((x) => x.steady);
        console.log(`seq ${seq}, checkpointing ${checkpointing}, ${threads} thread(s): studio ${spread(a)} s, PyTorch ${spread(b)} s, ratio ${(median(a) / median(b)).toFixed(2)}`);
        rows.push(`| ${seq} | ${4 * seq} | ${checkpointing ? 'on' : 'off'} | ${threads} | ${spread(a)} | ${spread(b)} | ${(median(a) / median(b)).toFixed(2)} | ${lossDiff.toExponential(1)} | ${refDiff.toExponential(1)} |`);
      }
    } finally {
      await lm.release();
      weights.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return `
## Training against PyTorch: one DPO update, the same work (ONNX Runtime CPU and PyTorch ${version} CPU)

${machine}
Command: \`npm run bench -- pytorch\` (bench/pytorch.ts, bench/pytorch_dpo.py; \`ISR_BENCH_PYTHON\` names the Python with torch, by
default python3). The LLaVA-OneVision \`small\` fixture's Qwen2 decoder (8 layers, hidden 512, vocabulary ${vocab}), LoRA r 16 / alpha 32
on all seven projections, DPO sigmoid, batch 2 pairs (4 rows of half prompt, half response), AdamW with clipping at 1,
the same threads a side (ONNX Runtime's intra-op pool; torch.set_num_threads and OpenBLAS's threads; PyTorch's BLAS:
${blas}). PyTorch runs the same update in eager mode
as transformers' Qwen2 and PEFT's LoRA compute it: the same starting factors, examples, batch order, learning rates and
reference log-probs, logits only where a response token is predicted, and with checkpointing each layer under
torch.utils.checkpoint. ${repeats + 1} runs of the studio and ${repeats} of PyTorch in turns, ${updates} updates each; seconds per update: median (min–max)
over every run's updates after its first. "Loss diff": the largest difference between the two sides' losses over all
updates (the benchmark fails above ${lossTolerance}); "reference diff": PyTorch's own reference log-probs against the
studio's, relative (it fails above ${referenceTolerance}).

| sequence | tokens / update | checkpointing | threads | studio s / update | PyTorch s / update | studio / PyTorch | loss diff | reference diff |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
}

interface Job {
  threads: number;
  settings: TrainConfig;
  examples: TrainExample[];
  reference: Float32Array;
  lrs: number[];
  order: number[];
  params: { name: string; dims: number[]; data: Float32Array }[];
  model: { config: ReturnType<typeof readModelConfig>; weightsFile: string; prefix: string; lmHead: string | null };
}

/** job.json and params.bin (the factors' float32 values, one after another) for pytorch_dpo.py. */
function writeJob(dir: string, job: Job): void {
  let offset = 0;
  const params = job.params.map((p) => {
    const entry = { name: p.name, dims: p.dims, offset };
    offset += p.data.length;
    return entry;
  });
  const blob = new Float32Array(offset);
  job.params.forEach((p, i) => blob.set(p.data, params[i].offset));
  writeFileSync(join(dir, 'params.bin'), blob);
  const s = job.settings;
  writeFileSync(join(dir, 'job.json'), JSON.stringify({
    threads: job.threads, text: job.model.config.text, weights: job.model.weightsFile, textPrefix: job.model.prefix, lmHead: job.model.lmHead,
    lora: { r: s.lora.r, alpha: s.lora.alpha }, gradientCheckpointing: s.gradientCheckpointing, beta: s.beta, maxGradNorm: s.maxGradNorm,
    batchSize: s.batchSize, lrs: job.lrs, order: job.order, reference: [...job.reference],
    examples: job.examples.map((e) => ({ prompt: e.prompt, chosen: e.chosen, rejected: e.rejected })), params,
  }));
}
