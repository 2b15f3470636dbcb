// The one place that creates ONNX Runtime sessions: execution-provider choice with a fallback to
// CPU, threads and optimisation level, and ONNX Runtime's errors turned into messages that name the
// graph and, when ORT says which, the failing node.
import * as ort from 'onnxruntime-node';

/** 'cpu', 'cuda', 'dml', 'coreml', ... or an object such as `{ name: 'cuda', deviceId: 1 }`. */
export type ProviderRequest = ort.InferenceSession.ExecutionProviderConfig;

export interface SessionOptions {
  /** Names the graph in log lines and errors, e.g. 'decoder' or 'dpo-train-step'. */
  graphName: string;
  /** Preference order; the first that works is used, CPU always last. Default ['cpu']. */
  providers?: readonly ProviderRequest[];
  /** Threads inside one op and across independent ops; 0 or absent lets ORT choose. */
  intraOpThreads?: number;
  interOpThreads?: number;
  optimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Where ORT writes the graph after its optimisations, to see what it fused. */
  optimizedModelPath?: string;
  /** ORT's own stderr logging: 0 verbose … 4 fatal. Default 3, errors only. */
  ortLogLevel?: 0 | 1 | 2 | 3 | 4;
  /** Receives the one line saying a provider was unusable. Default console.warn. */
  logger?: (line: string) => void;
}

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

export class Session {
  readonly graphName: string;
  /** The provider the session was created with (ORT may still place single nodes on CPU). */
  readonly provider: string;
  private inner: ort.InferenceSession | null;

  private constructor(graphName: string, provider: string, inner: ort.InferenceSession) {
    this.graphName = graphName;
    this.provider = provider;
    this.inner = inner;
  }

  /**
   * Creates a session from ONNX bytes or a model path (a path lets ORT find external data files
   * beside the model). Tries each requested accelerator with CPU behind it, in order, then CPU
   * alone; if it ends on CPU after a failure, `logger` gets one line naming what failed and why.
   */
  static async create(model: Uint8Array | string, options: SessionOptions): Promise<Session> {
    const { graphName } = options;
    const base = baseOptions(options);
    const requested = options.providers ?? ['cpu'];
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
      try {
        const inner = await load(model, { ...base, executionProviders: [provider, 'cpu'] });
        if (failures.length > 0) fallbackLine(options, failures, name);
        return new Session(graphName, name, inner);
      } catch (err) {
        failures.push(`${name} (${firstLine(err)})`);
      }
    }
    let inner: ort.InferenceSession;
    try {
      inner = await load(model, { ...base, executionProviders: ['cpu'] });
    } catch (err) {
      // The model itself is at fault; the accelerators' failures may share its cause.
      const tried = failures.length > 0 ? ` (before CPU, tried ${failures.join(', ')})` : '';
      throw new GraphError(graphName, 'create', err, tried);
    }
    if (failures.length > 0) fallbackLine(options, failures, 'cpu');
    return new Session(graphName, 'cpu', inner);
  }

  get inputNames(): readonly string[] {
    return this.live().inputNames;
  }

  get outputNames(): readonly string[] {
    return this.live().outputNames;
  }

  /** Runs the graph; `fetches` limits the outputs computed and returned (default: all). */
  async run(feeds: Record<string, ort.Tensor>, fetches?: readonly string[]): Promise<Record<string, ort.Tensor>> {
    const inner = this.live();
    try {
      const out = fetches ? await inner.run(feeds, [...fetches]) : await inner.run(feeds);
      return out as Record<string, ort.Tensor>;
    } catch (err) {
      throw new GraphError(this.graphName, 'run', err);
    }
  }

  async release(): Promise<void> {
    const inner = this.inner;
    this.inner = null;
    await inner?.release();
  }

  private live(): ort.InferenceSession {
    if (!this.inner) throw new Error(`graph '${this.graphName}': the session was released`);
    return this.inner;
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

function fallbackLine(options: SessionOptions, failures: readonly string[], using: string): void {
  const log = options.logger ?? console.warn;
  const subject = failures.length === 1 ? 'execution provider' : 'execution providers';
  const verb = failures.length === 1 ? 'is' : 'are';
  log(`graph '${options.graphName}': ${subject} ${failures.join(', ')} ${verb} unusable; running on ${using}`);
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0].trim();
}
