/**
 * What each command does, in the words of `mc --help` (first sentence) and `mc <command> --help` (all of it). Kept
 * apart from the commands so that listing them loads no library (onnxruntime, tfjs).
 */
export const SUMMARY = {
  inspect: 'Show a model: format, opset, inputs and outputs, per-node parameters, bytes and MACs, and totals.',
  convert:
    'Convert a model between formats, chosen by the output extension (.onnx, .h5, .keras, model.json). ONNX to ONNX is a lossless round trip: the output is read back (ONNX in memory, Keras formats from a temp folder) and must give bitwise-equal outputs in onnxruntime-node before it is written (exit 5 otherwise); a model onnxruntime cannot run is written with a warning. NaN/Inf weights are copied unchanged, with a warning.',
  compress:
    'Factorise dense layers (truncated SVD) and convolutions (Tucker-2) with ranks chosen by a per-layer error bound, a fixed rank, a global parameter ratio or a spectrum energy. A layer is replaced only when that saves parameters. The output is checked in onnxruntime-node before it is written (on the test split with --dataset, else synthetic inputs); a failed check exits 5 and writes nothing.',
  quantize:
    'Quantize a model: float16, int8 (weight-only, dynamic, static QDQ with calibration), int4 blocks, bnb4 (NF4/FP4 MatMulBnb4), k-means weight sharing, binary/ternary. The output is run in onnxruntime-node and checked against the float model before it is written (on the test split with --dataset, else synthetic inputs); a failed check exits 5 and writes nothing.',
  run: "Run a recipe (JSON or YAML): steps such as lowrank, quantize, finetune and distill, in order, each checked in onnxruntime-node against its input (the step's own check bounds, else its technique's thresholds; on the data when given, else synthetic inputs). With data the final model is also scored on the test split (--max-accuracy-drop). Nothing is written unless every check passes (exit 5 otherwise).",
  optimize:
    'Search techniques and their knobs (low rank, k-means, int8, float16, channel pruning with label-free recovery; per-layer sensitivity) for the smallest or fastest model that loses at most --max-accuracy-drop points, scored on training images and checked on the test split before it is written (finite outputs, drop within the bound; exit 5 and nothing written otherwise). Prints the Pareto front it saw.',
  eval: 'Measure a model in onnxruntime-node: top-1 accuracy of a classifier on MNIST, CIFAR-10 or .npy data, or (--task lm) perplexity of a language model on int64 token windows.',
  finetune:
    'Fine-tune a model after compression on labelled MNIST, CIFAR-10 or .npy data with tfjs-wasm; a checkpoint is written after every epoch, so a NaN loss leaves the last good one. The result is checked on the test split against the input (finite outputs, top-1 not more than --max-accuracy-drop points lower); a failed check removes the checkpoint and exits 5.',
  distill:
    "Train a student to match a teacher's softened outputs (Hinton knowledge distillation, temperature T, weight alpha), optionally without labels (the teacher labels the data). The student is checked on the test split against its input form (finite outputs, top-1 not more than --max-accuracy-drop points lower); a failed check removes the checkpoint and exits 5.",
  prune:
    'Prune weights (magnitude, N:M) or whole channels (dependency groups), so the file and the MACs really shrink. --sparsity/--nm zero the smallest weights and store them so the file shrinks (ONNX sparse_initializer or a packed form expanded at load); --channels removes whole channels along dependency groups (residual adds, concats, depthwise convs, flatten → dense) so tensors and MACs shrink. Groups that cannot be proven safe are left alone and listed with the reason. The output is checked in onnxruntime-node before it is written (on the test split with --dataset, else synthetic inputs); a failed check exits 5 and writes nothing.',
  variants:
    'Write the transformers.js variants of a model (onnx/model.onnx, model_fp16, model_quantized, model_q4, ...), each checked in onnxruntime-node and -web.',
  lint: 'List the nodes a deployment target (cpu, wasm, webgpu, nnapi, coreml, mobile) lacks kernels for, with the reason and the fix.',
} as const satisfies Record<string, string>;

/** A command's name. */
export type CommandName = keyof typeof SUMMARY;
