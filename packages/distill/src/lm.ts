import { McError, type Model, seededRandom } from '@mc/ir';
import { scheduledLr } from './optimizer.js';
import type { EpochReport } from './report.js';
import { buildOrtGraph } from './ort/graph.js';
import { ArrayOptimizer } from './ort/optimizer.js';
import { initialValues, OrtRunner, withWeights } from './ort/session.js';
import { ortTrainables } from './ort/train-ort.js';

/** Token windows: `count` rows of `width` int64 ids, row-major (an `input_ids.npy` of shape [count, width]). */
export interface TokenWindows {
  data: BigInt64Array;
  count: number;
  width: number;
}

/**
 * Options of {@link distillLm}. The loss per position is α·T²·KL(σ(t/T) ‖ σ(s/T)) + (1 − α)·CE(next token, σ(s)),
 * averaged over all positions.
 */
export interface LmDistillOptions {
  /** Default 2. */
  epochs?: number;
  /** Windows per step. Default 16. */
  batchSize?: number;
  /** Adam learning rate. Default 1e-3. */
  learningRate?: number;
  /** Default 'cosine'. */
  schedule?: 'constant' | 'cosine';
  /** Softmax temperature T. Default 1. */
  temperature?: number;
  /** Weight α of the teacher term. Default 0.5. */
  alpha?: number;
  /** Shuffling seed. Default 0. */
  seed?: number;
  /** Intra-op threads of onnxruntime-node. */
  threads?: number;
  onProgress?: (event: { epoch: number; step: number; stepsPerEpoch: number; loss: number }) => void;
  signal?: AbortSignal;
}

/** What {@link distillLm} reports (data). */
export interface LmDistillReport {
  technique: 'distill';
  engine: 'ort';
  epochs: EpochReport[];
  steps: number;
  seconds: number;
  /** Initializers that were trained (every float initializer on a gradient path except scalars). */
  trained: string[];
}

/**
 * Distils a language model (a pruned or otherwise compressed `student`) from `teacher` on token windows, on the
 * onnxruntime engine: both models read `input_ids` int64 [batch, sequence] and give logits [batch, sequence, vocab].
 * Each window of width W feeds its first W − 1 tokens; the next tokens are the hard targets.
 *
 * @example
 * ```ts
 * const ids = readNpy(readFileSync('calib/input_ids.npy'));
 * const { model } = await distillLm(gpt, pruned, { data: ids.data, count: ids.shape[0], width: ids.shape[1] }, { epochs: 2 });
 * ```
 */
export async function distillLm(
  teacher: Model,
  student: Model,
  windows: TokenWindows,
  opts: LmDistillOptions = {},
): Promise<{ model: Model; report: LmDistillReport }> {
  const epochs = opts.epochs ?? 2;
  const bs = opts.batchSize ?? 16;
  const alpha = opts.alpha ?? 0.5;
  const T = opts.temperature ?? 1;
  const { count, width } = windows;
  if (!(Number.isInteger(epochs) && epochs >= 1))
    throw new McError('E_OPTION', `distillLm: epochs ${epochs} is invalid; use an integer >= 1`);
  if (!(Number.isInteger(bs) && bs >= 1)) throw new McError('E_OPTION', `distillLm: batchSize ${bs} is invalid; use an integer >= 1`);
  if (!(alpha >= 0 && alpha <= 1)) throw new McError('E_OPTION', `distillLm: alpha ${alpha} is invalid; use a weight in [0, 1]`);
  if (!(T > 0)) throw new McError('E_OPTION', `distillLm: temperature ${T} is invalid; use a positive number`);
  if (width < 2 || count < 1 || windows.data.length < count * width) {
    throw new McError(
      'E_OPTION',
      `distillLm: token windows [${count}, ${width}] over ${windows.data.length} ids; pass [N, W] windows with W >= 2`,
    );
  }
  const started = performance.now();
  // Scalars (Gelu's 0.5 and 1, attention's 1/√d that exporters fold into initializers) stay constants.
  const scalar = (name: string) => (student.graph.initializers.get(name)?.constValue?.size ?? 0) <= 1;
  const { trainable } = ortTrainables(student, { freeze: scalar });
  if (trainable.size === 0) throw new McError('E_OPTION', 'distillLm: the student has no trainable float32 initializers; nothing to train');
  const graph = buildOrtGraph(student, { trainable, state: new Set(), bnMomentum: 0.99, loss: { alpha, temperature: T } });
  const k = graph.classes!;
  const runners: OrtRunner[] = [];
  try {
    const trainer = await OrtRunner.create(graph, opts.threads);
    runners.push(trainer);
    const tg = buildOrtGraph(teacher, { trainable: new Set(), state: new Set(), bnMomentum: 0.99 });
    const tRunner = await OrtRunner.create(tg, opts.threads);
    runners.push(tRunner);
    const weights = initialValues(student, graph.weights);
    const params = new Map([...trainable].map((n) => [n, weights.get(n)!.data]));
    const opt = new ArrayOptimizer({ type: 'adam' }, 0, new Map());
    const t = width - 1;
    const steps = Math.ceil(count / bs);
    const rand = seededRandom(opts.seed ?? 0);
    const report: LmDistillReport = { technique: 'distill', engine: 'ort', epochs: [], steps: 0, seconds: 0, trained: [...trainable] };
    for (let epoch = 0; epoch < epochs; epoch++) {
      const e0 = performance.now();
      const order = Array.from({ length: count }, (_, i) => i);
      for (let i = count - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let sum = 0;
      let lr = 0;
      for (let s = 0; s < steps; s++) {
        opts.signal?.throwIfAborted();
        const rows = order.slice(s * bs, (s + 1) * bs);
        const n = rows.length;
        const ids = new BigInt64Array(n * t);
        const y = new Float32Array(n * t * k);
        rows.forEach((w, r) => {
          for (let p = 0; p < t; p++) {
            ids[r * t + p] = windows.data[w * width + p]!;
            const next = Number(windows.data[w * width + p + 1]!);
            if (!(next >= 0 && next < k))
              throw new McError(
                'E_FORMAT',
                `distillLm: token ${next} in window ${w} is outside the vocabulary of ${k}; pass ids of this model's tokenizer`,
              );
            y[(r * t + p) * k + next] = 1;
          }
        });
        const feeds: Record<string, [Float32Array | BigInt64Array, readonly number[]]> = Object.fromEntries(
          [...weights].map(([name, w]) => [name, [w.data, w.dims]]),
        );
        feeds[graph.input] = [ids, [n, t]];
        if (graph.teacher !== undefined)
          feeds[graph.teacher] = [(await tRunner.run({ [tg.input]: [ids, [n, t]] }, [tg.logits])).get(tg.logits)!, [n * t, k]];
        if (graph.target !== undefined) feeds[graph.target] = [y, [n * t, k]];
        const out = await trainer.run(feeds, [graph.loss!, ...graph.grads.values()]);
        const loss = out.get(graph.loss!)![0]!;
        if (!Number.isFinite(loss))
          throw new McError('E_NUMERIC', `distillLm: the loss is ${loss} at epoch ${epoch + 1}, step ${s + 1}; lower learningRate`);
        lr = scheduledLr(opts.learningRate ?? 1e-3, opts.schedule ?? 'cosine', epoch, s / steps, epochs);
        opt.apply(params, new Map([...graph.grads].map(([w, name]) => [w, out.get(name)!])), lr);
        sum += loss;
        report.steps++;
        opts.onProgress?.({ epoch: epoch + 1, step: s + 1, stepsPerEpoch: steps, loss });
      }
      report.epochs.push({ epoch: epoch + 1, loss: sum / steps, lr, seconds: (performance.now() - e0) / 1000 });
    }
    report.seconds = (performance.now() - started) / 1000;
    return { model: withWeights(student, weights), report };
  } finally {
    for (const r of runners) await r.release();
  }
}
