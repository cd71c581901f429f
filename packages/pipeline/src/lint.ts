import type { Model, Node } from '@mc/ir';

/** Deployment targets the linter knows. */
export const LINT_TARGETS = ['cpu', 'wasm', 'webgpu', 'nnapi', 'coreml', 'mobile'] as const;
/** A deployment target: an onnxruntime execution provider or package. */
export type LintTarget = (typeof LINT_TARGETS)[number];

/** One finding: a node the target cannot run as written, why, and what to do. */
export interface LintFinding {
  node: string;
  opType: string;
  domain: string;
  severity: 'error' | 'warning';
  reason: string;
  fix: string;
}

/** The result of {@link lintModel}: data. `ok` is false when any finding is an error. */
export interface LintReport {
  target: LintTarget;
  ok: boolean;
  findings: LintFinding[];
}

interface Rule {
  /** Op types (domain '' unless written 'domain:Op'). */
  readonly ops: readonly string[];
  /** Only when an input or output of the node is float16. */
  readonly float16?: true;
  /** Every op except these (for the float16 rule). */
  readonly except?: true;
  readonly severity: 'error' | 'warning';
  readonly reason: string;
  readonly fix: string;
}

const INT8_DYNAMIC = ['ConvInteger', 'MatMulInteger', 'DynamicQuantizeLinear'];

/**
 * Ops onnxruntime 1.30's CPU execution provider (x86-64) runs in float16: data movement registered for every type
 * and the contrib ops that take float16 activations. Every other op with a float16 input gets Casts to float32 and
 * back inserted by onnxruntime (InsertCastTransformer): it runs, but in float32 with extra copies.
 */
const FP16_CPU_OPS = [
  'Cast',
  'Concat',
  'Expand',
  'Flatten',
  'Gather',
  'Identity',
  'Reshape',
  'Shape',
  'Slice',
  'Split',
  'Squeeze',
  'Transpose',
  'Unsqueeze',
  'com.microsoft:MatMulNBits',
  'com.microsoft:GatherBlockQuantized',
];

const WEBGPU_INT8: Rule = {
  ops: INT8_DYNAMIC,
  severity: 'error',
  reason: "onnxruntime-web's WebGPU execution provider has no kernel for it (int8-dynamic form); the node falls back to the CPU",
  fix: 'for WebGPU quantize with int8-static (QDQ) or int4/q4f16 (MatMulNBits), e.g. mc variants --set web',
};

/**
 * MatMulBnb4 on WebGPU: neither of onnxruntime-web's GPU providers registers a kernel for it (the kernel lists
 * onnxruntime/contrib_ops/webgpu/webgpu_contrib_kernels.cc and contrib_ops/js/js_contrib_kernels.cc name MatMulNBits
 * and no MatMulBnb4). The wasm backend runs it: measured with onnxruntime-web 1.30 in Node, outputs equal to
 * onnxruntime-node's.
 */
const WEBGPU_BNB4: Rule = {
  ops: ['com.microsoft:MatMulBnb4'],
  severity: 'warning',
  reason:
    "onnxruntime-web's WebGPU execution provider has no MatMulBnb4 kernel: the node runs on the wasm CPU fallback, with copies between GPU and CPU around it",
  fix: 'for WebGPU ship q4 or q4f16 (MatMulNBits has a WebGPU kernel), e.g. mc variants --set web',
};

const CONTRIB_4BIT = ['com.microsoft:MatMulNBits', 'com.microsoft:GatherBlockQuantized', 'com.microsoft:MatMulBnb4'];

/**
 * The targets table: what each target lacks. Kept in this one place; `mc lint`, `mc variants` and docs/deploy.md
 * read it.
 */
export const TARGET_RULES: Readonly<Record<LintTarget, readonly Rule[]>> = {
  cpu: [
    {
      ops: FP16_CPU_OPS,
      float16: true,
      except: true,
      severity: 'warning',
      reason: "onnxruntime's CPU execution provider has no float16 kernel for it: Casts to float32 are inserted around it",
      fix: 'ship the float32, int8 or q4 file for CPU; float16 saves bytes but not time there',
    },
  ],
  wasm: [
    {
      ops: FP16_CPU_OPS,
      float16: true,
      except: true,
      severity: 'warning',
      reason:
        "onnxruntime-web's wasm backend is onnxruntime's CPU execution provider built for WebAssembly, with no float16 kernel for it: Casts to float32 are inserted around it",
      fix: 'ship the float32, q8 or q4 file for wasm; float16 saves download bytes only',
    },
  ],
  webgpu: [WEBGPU_INT8, WEBGPU_BNB4],
  nnapi: [
    {
      ops: [...INT8_DYNAMIC, ...CONTRIB_4BIT],
      severity: 'warning',
      reason: 'the NNAPI execution provider does not take this op; onnxruntime runs it on the CPU, splitting the graph',
      fix: 'for NNAPI use int8-static (QDQ, per-tensor activations) or float32/fp16',
    },
  ],
  coreml: [
    {
      ops: [...INT8_DYNAMIC, ...CONTRIB_4BIT],
      severity: 'warning',
      reason: 'the CoreML execution provider does not take this op; onnxruntime runs it on the CPU, splitting the graph',
      fix: 'for CoreML use fp16 or int8-static (QDQ)',
    },
  ],
  mobile: [
    {
      ops: CONTRIB_4BIT,
      severity: 'warning',
      reason: "contrib op: onnxruntime-mobile's reduced-operator builds leave it out unless the build config lists it",
      fix: 'build onnxruntime with a reduced-operator config that lists com.microsoft ops, or ship the int8 file',
    },
  ],
};

const keyOf = (n: Node) => (n.domain === '' || n.domain === 'ai.onnx' ? n.opType : `${n.domain}:${n.opType}`);
const touchesFloat16 = (n: Node) => [...n.inputs, ...n.outputs].some((v) => v?.dtype === 'float16');

/**
 * Lists every node of `model` that `target` cannot run as written, per node with the reason and the fix.
 *
 * @example
 * ```ts
 * lintModel(await loadOnnx('model_quantized.onnx'), 'webgpu').findings; // ConvInteger … no WebGPU kernel
 * ```
 */
export function lintModel(model: Model, target: LintTarget): LintReport {
  const findings: LintFinding[] = [];
  for (const n of model.graph.nodes) {
    const key = keyOf(n);
    for (const r of TARGET_RULES[target]) {
      const listed = r.ops.includes(key);
      if (r.except === true ? listed : !listed) continue;
      if (r.float16 === true && !touchesFloat16(n)) continue;
      findings.push({ node: n.name, opType: n.opType, domain: n.domain, severity: r.severity, reason: r.reason, fix: r.fix });
    }
  }
  return { target, ok: !findings.some((f) => f.severity === 'error'), findings };
}

/** The targets a model suits: those {@link lintModel} finds nothing against. */
export function suitedTargets(model: Model): LintTarget[] {
  return LINT_TARGETS.filter((t) => lintModel(model, t).findings.length === 0);
}

/**
 * onnxruntime's reduced-operator build config (`build.sh --include_ops_by_config FILE`, for a custom mobile package):
 * one line `domain;opset;Op1,Op2` per domain and opset the models import, listing the op types their top-level graphs
 * use (ops inside If/Loop bodies are not listed).
 *
 * @example
 * ```ts
 * reducedOpsConfig([model]); // '# Generated by mc lint --target mobile\nai.onnx;17;Add,MatMul\ncom.microsoft;1;MatMulNBits\n'
 * ```
 */
export function reducedOpsConfig(models: readonly Model[]): string {
  const byKey = new Map<string, Set<string>>();
  for (const m of models) {
    for (const n of m.graph.nodes) {
      const domain = n.domain === '' ? 'ai.onnx' : n.domain;
      const opset = m.opset(n.domain) ?? m.opset(domain) ?? 1;
      const key = `${domain};${opset}`;
      const ops = byKey.get(key) ?? new Set<string>();
      ops.add(n.opType);
      byKey.set(key, ops);
    }
  }
  const lines = [...byKey].sort(([a], [b]) => a.localeCompare(b)).map(([k, ops]) => `${k};${[...ops].sort().join(',')}`);
  return `# Generated by mc lint --target mobile\n${lines.join('\n')}\n`;
}
