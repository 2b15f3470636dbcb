// Batches of examples as the policy's forward takes them (TRL's DataCollatorForPreference with
// concatenated_forward's layout): for P pairs, rows [0, P) are prompt + chosen and [P, 2P) prompt +
// rejected, right-padded, labels shifted by one and the loss on response tokens only. Each response
// ends with the end-of-turn token (TRL appends EOS).
// Embeddings (with the video's feature rows spliced in) are looked up on the host (LanguageModel.embed),
// so the vision tower stays frozen and its features come from the cache; when the
// embeddings are trained the graph gathers the text rows itself, and the host gives the visual rows.
import * as ort from 'onnxruntime-node';
import { concatTyped } from '../../../shared/arrays';
import { familyOf } from '../model/families';
import { towerTokensPerFrame } from '../model/vision';
import { trainInputs } from './policy-forward';
import { trainsOnPairs, type TrainableModel, type TrainConfig, type TrainExample } from './train-config';

export interface Rows {
  feeds: Record<string, ort.Tensor>;
  tokens: number;
}

/** One row of a batch: an example's prompt followed by one of its responses. */
interface Row {
  example: TrainExample;
  response: number[];
}

export class PreferenceCollator {
  constructor(
    private readonly model: Pick<TrainableModel, 'config' | 'lm'>,
    private readonly examples: readonly TrainExample[],
    private readonly settings: Pick<TrainConfig, 'loss' | 'trainProjector' | 'trainEmbeddings'>,
    /** Frames per video of the examples' tower features (0 when the projector is frozen). */
    private readonly frames: number,
  ) {}

  /** The rows of `indices` for the frozen model (the reference pass): features spliced into the embeddings. */
  frozenRows(indices: readonly number[]): Promise<Rows> {
    return this.collate(this.concatenated(indices), { projector: false, embeddings: false });
  }

  /** The data feeds of a micro-batch of examples (and their reference log-probs, for DPO). */
  async batch(indices: readonly number[], reference?: Float32Array): Promise<Rows> {
    const rows = await this.collate(this.concatenated(indices), { projector: this.settings.trainProjector, embeddings: this.settings.trainEmbeddings });
    if (trainsOnPairs(this.settings)) {
      if (reference === undefined) throw new Error('a DPO batch needs the reference log-probs');
      const n = this.examples.length;
      rows.feeds[trainInputs.refChosen] = new ort.Tensor('float32', Float32Array.from(indices, (i) => reference[i]), [indices.length]);
      rows.feeds[trainInputs.refRejected] = new ort.Tensor('float32', Float32Array.from(indices, (i) => reference[n + i]), [indices.length]);
    }
    return rows;
  }

  /** TRL's concatenated layout: every chosen row, then (DPO) every rejected row in the same order. */
  private concatenated(indices: readonly number[]): Row[] {
    const picked = indices.map((i) => this.examples[i]);
    const chosen = picked.map((example) => ({ example, response: example.chosen }));
    return trainsOnPairs(this.settings) ? [...chosen, ...picked.map((example) => ({ example, response: example.rejected! }))] : chosen;
  }

  /** `trained`: which of the projector and the embeddings the graph computes itself. */
  private async collate(rows: readonly Row[], trained: { projector: boolean; embeddings: boolean }): Promise<Rows> {
    const h = this.model.config.text.hiddenSize;
    const ids = rows.map((r) => [...r.example.prompt, ...r.response]);
    const seq = Math.max(...ids.map((row) => row.length));
    const n = rows.length;
    const dims = [n, seq];
    const { projector } = trained;
    const { embeds, visualIndex, videos } = await this.embed(rows, ids, seq, trained);
    const { mask, window, labels, lossMask } = shiftedLabels(rows, ids, seq);
    return {
      tokens: ids.reduce((sum, row) => sum + row.length, 0),
      feeds: {
        ...(projector ? this.projectorFeeds(videos, visualIndex, dims) : {}),
        ...(trained.embeddings ? tokenFeeds(rows, ids, seq) : {}),
        [trainInputs.embeds]: new ort.Tensor('float32', embeds, [n, seq, h]),
        [trainInputs.mask]: new ort.Tensor('int64', mask, dims),
        [trainInputs.positions]: new ort.Tensor('int64', familyOf(this.model.config).positionIds(ids.map((row) => row.length), seq, 'right'), dims),
        [trainInputs.logitsPositions]: new ort.Tensor('int64', BigInt64Array.from({ length: window.rows }, (_, j) => BigInt(window.from + j)), [window.rows]),
        [trainInputs.labels]: new ort.Tensor('int64', labels, [n, window.rows]),
        [trainInputs.lossMask]: new ort.Tensor('float32', lossMask, [n, window.rows]),
      },
    };
  }

  /**
   * The rows' embeddings, right-padded with zeros. Text rows are looked up on the host (LanguageModel.embed),
   * or are zeros when the graph gathers them itself (trained embeddings). Visual rows are the
   * video's features, or, with the projector in the graph, zeros pointing into the batch's table of
   * visual rows (`visualIndex`, 0: no visual row): one block of rows per video, in the order the
   * videos first appear (`videos`).
   */
  private async embed(rows: readonly Row[], ids: readonly number[][], seq: number, trained: { projector: boolean; embeddings: boolean }) {
    const h = this.model.config.text.hiddenSize;
    const videos: TrainExample[] = [];
    const visualIndex = new BigInt64Array(trained.projector ? rows.length * seq : 0);
    const embeds = new Float32Array(rows.length * seq * h);
    for (const [r, { example }] of rows.entries()) {
      const visual = example.visual;
      if (!trained.embeddings) {
        // The host lookup splices the features in itself; zeros where the projector's rows go.
        const spliced = visual && trained.projector ? { tokenId: visual.tokenId, features: new Float32Array(visual.features.length) } : visual;
        embeds.set(this.model.lm.embed(ids[r], spliced), r * seq * h);
      }
      if (visual === undefined || !(trained.projector || trained.embeddings)) continue;
      let slot = videos.indexOf(example);
      if (trained.projector && slot < 0) slot = videos.push(example) - 1;
      let k = 0;
      ids[r].forEach((id, t) => {
        if (id !== visual.tokenId) return;
        if (trained.projector) visualIndex[r * seq + t] = BigInt(1 + slot * (visual.features.length / h) + k);
        else embeds.set(visual.features.subarray(k * h, (k + 1) * h), (r * seq + t) * h);
        k++;
      });
    }
    return { embeds, visualIndex, videos };
  }

  /** The tower features of the batch's videos and the visual index table into their projected rows. */
  private projectorFeeds(videos: readonly TrainExample[], visualIndex: BigInt64Array, dims: number[]): Record<string, ort.Tensor> {
    const { config } = this.model;
    const v = config.vision;
    const perFrame = towerTokensPerFrame(config) * v.hiddenSize;
    // A batch without any video still feeds one (zero) video, which no position points at.
    const towers = videos.length > 0 ? videos.map((e) => e.tower!) : [new Float32Array(this.frames * perFrame)];
    const tower = concatTyped(towers, (length) => new Float32Array(length));
    return {
      [trainInputs.tower]: new ort.Tensor('float32', tower, [towers.length * this.frames, towerTokensPerFrame(config), v.hiddenSize]),
      [trainInputs.visualIndex]: new ort.Tensor('int64', visualIndex, dims),
    };
  }
}

/** The token ids the graph gathers its text rows for, and the mask of those rows (0 at visual tokens and padding). */
function tokenFeeds(rows: readonly Row[], ids: readonly number[][], seq: number): Record<string, ort.Tensor> {
  const tokens = new BigInt64Array(rows.length * seq);
  const text = new Float32Array(rows.length * seq);
  for (const [r, { example }] of rows.entries()) {
    ids[r].forEach((id, t) => {
      tokens[r * seq + t] = BigInt(id);
      if (id !== example.visual?.tokenId) text[r * seq + t] = 1;
    });
  }
  return {
    [trainInputs.ids]: new ort.Tensor('int64', tokens, [rows.length, seq]),
    [trainInputs.textMask]: new ort.Tensor('float32', text, [rows.length, seq, 1]),
  };
}

/**
 * Attention mask of right-padded rows; the window of positions whose logits the loss reads (from the
 * earliest last prompt position to the latest position before a row's end: every position that
 * predicts a response token), and over that window the next-token labels and the loss mask
 * (response tokens only).
 */
function shiftedLabels(rows: readonly Row[], ids: readonly number[][], seq: number) {
  const mask = new BigInt64Array(rows.length * seq);
  for (const [r, row] of ids.entries()) mask.fill(1n, r * seq, r * seq + row.length);
  const from = Math.min(...rows.map(({ example }) => example.prompt.length - 1));
  const window = { from, rows: Math.max(...ids.map((row) => row.length - 1)) - from };
  const labels = new BigInt64Array(rows.length * window.rows);
  const lossMask = new Float32Array(rows.length * window.rows);
  for (const [r, { example }] of rows.entries()) {
    const row = ids[r];
    for (let j = 0; j < window.rows; j++) {
      const next = from + j + 1;
      if (next >= row.length) break;
      labels[r * window.rows + j] = BigInt(row[next]);
      if (next >= example.prompt.length) lossMask[r * window.rows + j] = 1;
    }
  }
  return { mask, window, labels, lossMask };
}
