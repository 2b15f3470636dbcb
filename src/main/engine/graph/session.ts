// The one place that creates ONNX Runtime sessions: execution-provider choice with a fallback to
// CPU, threads and optimisation level (CPU graphs loaded from their optimised file, kept per machine: graph-cache.ts), a graph's weights fed from the model's one copy (on CPU) or
// owned by the session (an accelerator, which copies them to its device), the graph in float16 and
// outputs kept on the device where the engine's settings and the provider allow (docs/engine.md,
// accelerators), and ONNX Runtime's errors turned into messages that name the graph and, when ORT says which, the
// failing node (or the weight).
import * as ort from 'onnxruntime-node';
import type { Graph, Node } from './ir';
import { numel } from './ir';
import { toFloat16 } from './float16';
import { serialize, serializeBound, type BoundWeight } from './onnx';
import { engineSettings, type EnginePrecision } from '../engine-settings';
import { loadOptimised } from './graph-cache';

/** 'cpu', 'cuda', 'dml', 'coreml', ... or an object such as `{ name: 'cuda', deviceId: 1 }`. */
export type ProviderRequest = ort.InferenceSession.ExecutionProviderConfig;

export interface SessionOptions {
  /** Names the graph in log lines and errors, e.g. 'decoder' or 'dpo-train-step'. */
  graphName: string;
  /** Preference order; the first that works is used, CPU always last. Default: the engine's device (engine-settings.ts). */
  providers?: readonly ProviderRequest[];
  /** Threads inside one op and across independent ops; 0 lets ORT choose; absent: the engine's setting. */
  intraOpThreads?: number;
  interOpThreads?: number;
  optimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Where ORT writes the graph after its optimisations, to see what it fused. */
  optimizedModelPath?: string;
  /** ORT's own stderr logging: 0 verbose … 4 fatal. Default 3, errors only. */
  ortLogLevel?: 0 | 1 | 2 | 3 | 4;
  /** A graph that may run in float16 (graph/float16.ts), with the nodes that stay float32: on an
   *  accelerator under the engine's precision 'auto', everywhere under 'float16'. */
  halfPrecision?: (node: Node) => boolean;
  /** Outputs to keep on the device where the provider can (WebGPU: onnxruntime-node binds device
   *  outputs for it alone), built onto the graph there by `add`. They come back as tensors of
   *  location 'gpu-buffer', to feed to a later run and then dispose, never to read (onnxruntime-node
   *  1.30 aborts the process on a download). */
  deviceOutputs?: { names: readonly string[]; add: (graph: Graph) => Graph };
  /** Receives the one line saying a provider was unusable. Default console.warn. */
  logger?: (line: string) => void;
}

/** The smallest float32 matrix a CPU session made from a graph is fed from its array; smaller
 *  tensors (norms, biases, op constants) stay inline, where the fusions that match them see them. */
export const MATRIX_MIN_BYTES = 4096;

/** An ONNX Runtime failure, with the graph and (when ORT names them) the node and its op. */
export class GraphError extends Error {
  readonly graphName: string;
  readonly phase: 'create' | 'run';
  readonly node?: string;
  readonly op?: string;

  constructor(graphName: string, phase: 'create' | 'run', cause: unknown, context = '') {
    const raw = cause instanceof Error ? cause.message : String(cause);
    const { node, op, detail } = parseOrtMessage(raw);
    const what = phase === 'create' ? 'cannot create a session' : 'run failed';
    const where = node === undefined ? '' : ` at ${op ?? 'the'} node '${node}'`;
    super(`graph '${graphName}': ${what}${where}: ${detail}${context}`, { cause });
    this.name = 'GraphError';
    this.graphName = graphName;
    this.phase = phase;
    this.node = node;
    this.op = op;
  }
}

/**
 * Finds the node in ORT's two message shapes: at run time "Non-zero status code returned while
 * running MatMul node. Name:'/a/MatMul' Status Message: …", and at load time (shape inference)
 * "Node (/a/MatMul) Op (MatMul) [ShapeInferenceError] …".
 */
export function parseOrtMessage(message: string): { node?: string; op?: string; detail: string } {
  const run = /running (\S+) node\. Name:'([^']*)' Status Message: ([\s\S]*)$/.exec(message);
  if (run) return { op: run[1], node: run[2], detail: run[3].trim() };
  const load = /Node \((.*?)\) Op \((.*?)\) ([\s\S]*)$/.exec(message);
  if (load) return { node: load[1], op: load[2], detail: load[3].trim() };
  return { detail: message.trim() };
}

/** The execution providers this onnxruntime-node build can try; `bundled: false` ones need libraries installed separately (CUDA, TensorRT). */
export function availableProviders(): { name: string; bundled: boolean }[] {
  return ort.listSupportedBackends().map(({ name, bundled }) => ({ name, bundled }));
}

const providerName = (p: ProviderRequest): string => (typeof p === 'string' ? p : p.name);

/** What a session is made from: a builder graph, ONNX bytes, or a model path (a path lets ORT find
 *  external data files beside the model). */
export type ModelSource = Graph | Uint8Array | string;

/** The bytes ORT loads for a provider, and the weights the session feeds itself on every run. */
interface Loadable {
  model: Uint8Array | string;
  bound: readonly BoundWeight[];
}

export class Session {
  readonly graphName: string;
  /** The provider the session was created with (ORT may still place single nodes on CPU). */
  readonly provider: string;
  private inner: ort.InferenceSession | null;
  /** Weights fed from their own arrays on every run (CPU sessions made from a graph), by input name. */
  private bound: Map<string, { tensor: ort.Tensor; weight: BoundWeight }> | null;

  /** The outputs this session keeps on the device (SessionOptions.deviceOutputs); empty where the provider cannot. */
  readonly deviceOutputs: ReadonlySet<string>;

  private constructor(graphName: string, provider: string, inner: ort.InferenceSession, bound: readonly BoundWeight[], deviceOutputs: readonly string[] = []) {
    this.graphName = graphName;
    this.provider = provider;
    this.deviceOutputs = new Set(deviceOutputs);
    this.inner = inner;
    this.bound = new Map(bound.map((w) => [w.name, { weight: w, tensor: new ort.Tensor('float32', w.tensor.data as Float32Array, [...w.tensor.dims]) }]));
  }

  /**
   * Creates a session. Tries each requested accelerator with CPU behind it, in order, then CPU
   * alone; if it ends on CPU after a failure, `logger` gets one line naming what failed and why.
   * From a graph on CPU, the float32 matrices are fed from the graph's own arrays (ORT reads a fed
   * tensor where it lies, but copies every initializer), so every session over one model reads one copy;
   * they stay the session's inputs for its whole life, so a change to such an array shows in its outputs.
   */
  static async create(source: ModelSource, options: SessionOptions): Promise<Session> {
    const { graphName } = options;
    const machine = engineSettings();
    const base = baseOptions({ ...options, intraOpThreads: options.intraOpThreads ?? (machine.threads || undefined) });
    const forProvider = loadables(source, options, machine.precision);
    const requested = options.providers ?? (machine.device === 'cpu' ? ['cpu'] : [machine.device, 'cpu']);
    // CPU runs every op, so nothing after it in the list could ever be chosen.
    const cpuAt = requested.findIndex((p) => providerName(p) === 'cpu');
    const accelerators = cpuAt < 0 ? requested : requested.slice(0, cpuAt);
    const available = availableProviders().map((p) => p.name);
    const failures: string[] = [];
    for (const provider of accelerators) {
      const name = providerName(provider);
      if (!available.includes(name)) {
        failures.push(`${name} (not in this onnxruntime-node build, which has ${available.join(', ')})`);
        continue;
      }
      const missing = missingProviderLibraries.get(name);
      if (missing !== undefined) {
        failures.push(`${name} (${missing})`);
        continue;
      }
      try {
        const { model, deviceOutputs } = forProvider.accelerator(name);
        const kept = deviceOutputs.length > 0 ? { preferredOutputLocation: Object.fromEntries(deviceOutputs.map((o) => [o, 'gpu-buffer' as const])) } : {};
        const inner = await load(model, { ...base, ...kept, executionProviders: [provider, 'cpu'] });
        if (failures.length > 0) fallbackLine(options, failures, name);
        return new Session(graphName, name, inner, [], deviceOutputs);
      } catch (err) {
        const reason = firstLine(err);
        // Libraries that failed to load, or a machine without a GPU adapter, stay so for this process:
        // later sessions go straight on.
        if (/failed to load (shared )?library|failed to get a WebGPU adapter/i.test(reason)) missingProviderLibraries.set(name, reason);
        failures.push(`${name} (${reason})`);
      }
    }
    const { model, bound } = forProvider.cpu();
    const cpu: ort.InferenceSession.SessionOptions = { ...base, executionProviders: ['cpu'] };
    // Through the optimised graph's file, unless the caller asked for no optimisation or for the file itself.
    const offline = model instanceof Uint8Array && base.graphOptimizationLevel !== 'disabled' && options.optimizedModelPath === undefined;
    let inner: ort.InferenceSession;
    try {
      inner = offline ? await loadOptimised(model, cpu, machine.graphCache) : await load(model, cpu);
    } catch (err) {
      // The model itself is at fault; the accelerators' failures may share its cause.
      const tried = failures.length > 0 ? ` (before CPU, tried ${failures.join(', ')})` : '';
      throw new GraphError(graphName, 'create', err, tried);
    }
    if (failures.length > 0) fallbackLine(options, failures, 'cpu');
    return new Session(graphName, 'cpu', inner, bound);
  }

  /** The graph's inputs, without the weights the session feeds itself. */
  get inputNames(): readonly string[] {
    const inner = this.live();
    const bound = this.bound;
    return bound === null || bound.size === 0 ? inner.inputNames : inner.inputNames.filter((n) => !bound.has(n));
  }

  /** Names of the weights this session feeds from their arrays on every run (empty unless CPU from a graph). */
  get boundWeights(): readonly string[] {
    return [...(this.bound?.keys() ?? [])];
  }

  get outputNames(): readonly string[] {
    return this.live().outputNames;
  }

  /** Runs the graph; `fetches` limits the outputs returned (default: all); ORT runs the whole graph either way.
   *  A session with device outputs returns every output: onnxruntime-node's binding keeps the outputs
   *  a run bound, and refuses a later run that fetches others ("Output count mismatch"). */
  async run(feeds: Record<string, ort.Tensor>, fetches?: readonly string[]): Promise<Record<string, ort.Tensor>> {
    const inner = this.live();
    const all = this.withBound(feeds);
    try {
      const out = fetches && this.deviceOutputs.size === 0 ? await inner.run(all, [...fetches]) : await inner.run(all);
      return out as Record<string, ort.Tensor>;
    } catch (err) {
      throw new GraphError(this.graphName, 'run', err);
    }
  }

  async release(): Promise<void> {
    const inner = this.inner;
    this.inner = null;
    this.bound = null;
    await inner?.release();
  }

  /** The caller's feeds and the bound weights, each weight checked to still have all its values. */
  private withBound(feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
    const bound = this.bound;
    if (bound === null || bound.size === 0) return feeds;
    const clash = Object.keys(feeds).find((name) => bound.has(name));
    if (clash !== undefined) throw new GraphError(this.graphName, 'run', `'${clash}' is a weight of the graph, not an input to feed`);
    const all: Record<string, ort.Tensor> = { ...feeds };
    for (const [name, { tensor, weight }] of bound) {
      checkWeights(this.graphName, 'run', [weight]);
      all[name] = tensor;
    }
    return all;
  }

  private live(): ort.InferenceSession {
    if (!this.inner) throw new Error(`graph '${this.graphName}': the session was released`);
    return this.inner;
  }
}

/** The model bytes (and bound weights) for an accelerator and for CPU, each made on first use, in the
 *  precision the engine's setting gives each; an accelerator's with the outputs it keeps on the device. */
function loadables(source: ModelSource, options: SessionOptions, precision: EnginePrecision): { accelerator: (provider: string) => Loadable & { deviceOutputs: readonly string[] }; cpu: () => Loadable } {
  if (typeof source === 'string' || source instanceof Uint8Array) {
    const plain = { model: source, bound: [], deviceOutputs: [] };
    return { accelerator: () => plain, cpu: () => plain };
  }
  checkWeights(options.graphName, 'create', [...source.initializers].map(([name, tensor]) => ({ name, tensor })));
  const keep = options.halfPrecision;
  const half = (graph: Graph, on: boolean): Graph => (keep !== undefined && on ? toFloat16(graph, keep) : graph);
  // onnxruntime-node binds device outputs for WebGPU alone.
  const onDevice = (provider: string) => (provider === 'webgpu' ? options.deviceOutputs : undefined);
  const owned = new Map<boolean, Loadable & { deviceOutputs: readonly string[] }>();
  let shared: Loadable | undefined;
  return {
    accelerator: (provider) => {
      const outputs = onDevice(provider);
      const made = owned.get(outputs !== undefined)
        ?? { model: serialize(half(outputs?.add(source) ?? source, precision !== 'float32')), bound: [], deviceOutputs: outputs?.names ?? [] };
      owned.set(outputs !== undefined, made);
      return made;
    },
    cpu: () => (shared ??= serializeBound(half(source, precision === 'float16'), MATRIX_MIN_BYTES)),
  };
}

/** A weight whose array was detached or shrunk (its buffer transferred to a worker, say) would give
 *  ORT too few values; name it rather than let ORT or the serialiser report something vaguer. */
function checkWeights(graphName: string, phase: 'create' | 'run', bound: readonly BoundWeight[]): void {
  for (const { name, tensor } of bound) {
    const want = numel(tensor.dims);
    if (tensor.data.length !== want) {
      throw new GraphError(graphName, phase, `weight '${name}' [${tensor.dims.join(', ')}] has ${tensor.data.length} of its ${want} values left in its array (was its buffer transferred or detached?)`);
    }
  }
}

// ORT's overloads take a path or bytes, not the union.
function load(model: Uint8Array | string, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

function baseOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  const threads = (label: string, n: number | undefined) => {
    if (n !== undefined && !(Number.isInteger(n) && n >= 0)) {
      throw new Error(`graph '${options.graphName}': ${label} must be a whole number ≥ 0 (0 lets ONNX Runtime choose), got ${n}`);
    }
    return n;
  };
  const base: ort.InferenceSession.SessionOptions = {
    logSeverityLevel: options.ortLogLevel ?? 3,
    graphOptimizationLevel: options.optimizationLevel ?? 'all',
  };
  const intra = threads('intraOpThreads', options.intraOpThreads);
  const inter = threads('interOpThreads', options.interOpThreads);
  if (intra !== undefined) base.intraOpNumThreads = intra;
  if (inter !== undefined) base.interOpNumThreads = inter;
  if (options.optimizedModelPath !== undefined) base.optimizedModelFilePath = options.optimizedModelPath;
  return base;
}

// ONNX Runtime's process-wide logger prints, among others, a provider library that fails to load, in
// its raw form; every failure reaches the user through this module instead (GraphError, the
// fallback line), so that logger says only what is fatal. Sessions log at their own ortLogLevel.
ort.env.logLevel = 'fatal';

/** Providers whose libraries would not load in this process (or that found no adapter), with the reason. */
const missingProviderLibraries = new Map<string, string>();

/** What each logger was told already: a model opens many sessions, and one line per cause is enough. */
const told = new WeakMap<(line: string) => void, Set<string>>();

function fallbackLine(options: SessionOptions, failures: readonly string[], using: string): void {
  const log = options.logger ?? console.warn;
  const subject = failures.length === 1 ? 'execution provider' : 'execution providers';
  const verb = failures.length === 1 ? 'is' : 'are';
  const cause = `${subject} ${failures.join(', ')} ${verb} unusable; running on ${using}`;
  const said = told.get(log) ?? new Set<string>();
  told.set(log, said);
  if (said.has(cause)) return;
  said.add(cause);
  log(`graph '${options.graphName}': ${cause}`);
}

/** The first line of an error, without the source location and failed check ORT's own asserts
 *  put before their message ("/onnxruntime_src/….cc:136 … status == Success was false. Failed to …"). */
function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const line = message.split('\n')[0].trim();
  return /^\S+\.(?:cc|cpp|h):\d+ .* was false\. (.+)$/.exec(line)?.[1] ?? line;
}
