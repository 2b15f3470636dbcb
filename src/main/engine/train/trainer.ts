// DPO-family and SFT training of a loaded model's decoder with LoRA, on ONNX Runtime: the run's
// pieces put together. Checks before anything runs (train-config.ts), batches in TRL's layout
// (collator.ts), the loss graph (policy-forward.ts), reference log-probs computed once with the
// frozen model (reference-pass.ts), the updates with a resumable state (update-loop.ts, state.ts,
// each update one graph: train-step.ts), and the result as a PEFT adapter and as a merged model
// folder in the input's layout (peft-export.ts).
import { Session, type SessionOptions } from '../graph/session';
import { PreferenceCollator, type Rows } from './collator';
import { PeftExport } from './peft-export';
import { policyForward } from './policy-forward';
import { initialValue, wholeTensors } from './whole-tensors';
import { referenceLogps, type ReferenceProgress } from './reference-pass';
import type { TrainState } from './state';
import { checkTraining, totalSteps, type TrainableModel, type TrainConfig, type TrainExample } from './train-config';
import { buildLossGraph, type LossGraph, type OpenSession } from './train-step';
import { runUpdates, type TrainOptions } from './update-loop';

export class Trainer {
  private readonly collator: PreferenceCollator;
  private readonly openSession: OpenSession;
  private readonly peft: PeftExport;

  private constructor(
    private readonly model: TrainableModel,
    private readonly examples: readonly TrainExample[],
    readonly settings: TrainConfig,
    private readonly stateDir: string,
    sessionOptions: Omit<SessionOptions, 'graphName'>,
    /** Frames per video of the examples' tower features (0 when the projector is frozen). */
    private readonly frames: number,
  ) {
    this.collator = new PreferenceCollator(model, examples, settings, frames);
    this.peft = new PeftExport(model, settings);
    // Graphs, not bytes: their frozen base weights are the loaded model's arrays, which the CPU
    // session feeds rather than copies (graph/session.ts), so training adds no copy of the model.
    this.openSession = (graph) => Session.create(graph, { ...sessionOptions, graphName: graph.name });
  }

  /** Validates the settings and the examples; nothing runs until `referenceLogps` / `train`. */
  static create(
    model: TrainableModel,
    examples: readonly TrainExample[],
    settings: TrainConfig,
    stateDir: string,
    sessionOptions: Omit<SessionOptions, 'graphName'> = {},
  ): Trainer {
    const frames = checkTraining(model.config, examples, settings);
    return new Trainer({ config: model.config, weights: model.weights, lm: model.lm }, examples, settings, stateDir, sessionOptions, frames);
  }

  /** Updates the whole run takes: epochs x ceil(examples / (batch x accumulation)). */
  get totalSteps(): number {
    return totalSteps(this.settings, this.examples.length);
  }

  /** The graph of the loss alone (LoRA factors as inputs): for checking its gradient. */
  lossGraph(): LossGraph {
    return buildLossGraph(this.forward(), this.settings.lora, 'loss', this.wholeTensors().map((t) => t.name));
  }

  /** The data feeds of a micro-batch of examples (and their reference log-probs, for DPO). */
  batchFeeds(indices: readonly number[], reference?: Float32Array): Promise<Rows> {
    return this.collator.batch(indices, reference);
  }

  /** A whole tensor trained beside the adapters, as training starts from it: the checkpoint's, in the graph's layout. */
  initialParam(name: string): Float32Array {
    const tensor = this.wholeTensors().find((t) => t.name === name);
    if (tensor === undefined) throw new Error(`'${name}' is not a whole tensor this run trains`);
    return initialValue(this.model.weights, tensor);
  }

  /**
   * Summed response log-probs of every example's chosen and rejected responses under the frozen
   * model (no adapter): the DPO reference, computed once. Returns [chosen..., rejected...].
   */
  referenceLogps(onProgress?: ReferenceProgress): Promise<Float32Array> {
    return referenceLogps(this.model, this.collator, { examples: this.examples.length, batchSize: this.settings.batchSize, openSession: this.openSession }, onProgress);
  }

  /**
   * Trains to the end (or until `signal` aborts), resuming from the state in the state folder if one
   * is there. The state is saved every `saveEvery` updates and at the end, so a killed run resumes
   * and takes exactly the updates it would have taken. `reference` is referenceLogps' result (DPO only).
   */
  train(options: TrainOptions = {}): Promise<TrainState> {
    const tensors = this.wholeTensors();
    return runUpdates({
      settings: this.settings, collator: this.collator, forward: this.forward(), wholeTensors: tensors.map((t) => t.name),
      startingValue: (name) => ({ dims: tensors.find((t) => t.name === name)!.dims, data: this.initialParam(name) }),
      examples: this.examples.length, totalSteps: this.totalSteps, stateDir: this.stateDir, openSession: this.openSession,
    }, options);
  }

  /** adapter_model.safetensors + adapter_config.json, with the base model's full module paths. */
  writeAdapter(dir: string, state: TrainState, baseModel: string): void {
    this.peft.writeAdapter(dir, state, baseModel);
  }

  /** A model folder in the input's layout with the adapter merged into its weights (see PeftExport.writeMerged). */
  writeMerged(dir: string, sourceDir: string, state: TrainState): void {
    this.peft.writeMerged(dir, sourceDir, state);
  }

  private forward() {
    return policyForward(this.model, this.settings, this.frames);
  }

  private wholeTensors() {
    return wholeTensors(this.model.config, this.settings);
  }
}
