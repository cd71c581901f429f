import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@mc/ir';
import { loadOnnx } from '@mc/io-onnx';
import { variants, writeVariants } from '@mc/pipeline';
import { runModel } from '@mc/verify';

// A real client: @huggingface/transformers from npm, installed outside the repo:
//   mkdir -p ~/.cache/mc/hf-transformers && cd ~/.cache/mc/hf-transformers && echo '{"private":true}' > package.json &&
//   npm install --ignore-scripts @huggingface/transformers@4.3.2
const VERSION = '4.3.2';
const hf = join(homedir(), '.cache', 'mc', 'hf-transformers', 'node_modules', '@huggingface', 'transformers');
const installed = existsSync(join(hf, 'package.json'))
  ? (JSON.parse(readFileSync(join(hf, 'package.json'), 'utf8')).version as string)
  : '';
const script = new URL('../../../bench/gpt/train_gpt.py', import.meta.url).pathname;
const gptDir = join(homedir(), '.cache', 'mc', 'gpt-bytes', createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12));
const SKIP =
  installed !== VERSION
    ? ` (skipped: @huggingface/transformers@${VERSION} is not installed in ${hf}; see the install command at the top of this file)`
    : !existsSync(join(gptDir, 'gpt.onnx'))
      ? ` (skipped: ${gptDir}/gpt.onnx is absent; node bench/transformer.bench.mjs trains it, needs python3-torch)`
      : '';

/** GPT-2's byte → printable-character map: a ByteLevel BPE with no merges and vocab[char(b)] = b gives token id = byte. */
function byteChars(): string[] {
  const bs: number[] = [];
  for (const [a, b] of [
    [33, 126],
    [161, 172],
    [174, 255],
  ] as const)
    for (let i = a; i <= b; i++) bs.push(i);
  const chars: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) chars[b] = String.fromCodePoint(bs.includes(b) ? b : 256 + n++);
  return chars;
}

/** config.json (gpt2 without a KV cache) and a byte-level tokenizer for the bench's GPT. */
function writeClientFiles(dir: string, meta: { vocab: number; d: number; layers: number; heads: number; ctx: number }): void {
  const level = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const vocab = Object.fromEntries(byteChars().map((c, b) => [c, b]));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: level,
    post_processor: null,
    decoder: level,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [],
    },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'GPT2Tokenizer', model_max_length: meta.ctx }));
  const config = {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    vocab_size: meta.vocab,
    n_embd: meta.d,
    n_layer: meta.layers,
    n_head: meta.heads,
    n_positions: meta.ctx,
    use_cache: false,
    eos_token_id: 0,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
}

const argmaxLast = (logits: Float32Array, vocab: number) => {
  const off = logits.length - vocab;
  let best = 0;
  for (let v = 1; v < vocab; v++) if (logits[off + v]! > logits[off + best]!) best = v;
  return best;
};

describe.skipIf(SKIP !== '')(`@huggingface/transformers@${VERSION} loads mc's variants from a local folder${SKIP}`, () => {
  it('every dtype: same logits as onnxruntime-node on the same file (max |Δ| ≤ 1e-4; measured 0), same next byte from generate(), same 12-byte greedy text, no network', async () => {
    const meta = JSON.parse(readFileSync(join(gptDir, 'meta.json'), 'utf8'));
    const root = mkdtempSync(join(tmpdir(), 'mc-hf-'));
    try {
      const dir = join(root, 'gpt-bytes');
      mkdirSync(dir);
      const result = await variants(await loadOnnx(join(gptDir, 'gpt.onnx')), { web: false });
      writeVariants(result, dir);
      writeClientFiles(dir, meta);
      const t = await import(pathToFileURL(join(hf, 'dist', 'transformers.node.mjs')).href);
      t.env.allowRemoteModels = false;
      t.env.localModelPath = `${root}/`;
      const tok = await t.AutoTokenizer.from_pretrained('gpt-bytes');
      const text = 'Permission is hereby granted, free of charge, to any ';
      const enc = tok(text);
      const ids = BigInt64Array.from(Buffer.from(text), (b) => BigInt(b));
      expect([...(enc.input_ids.data as BigInt64Array)]).toEqual([...ids]);
      const dtypes = result.report.entries.filter((e) => e.status === 'ok').map((e) => e.dtype);
      expect(dtypes).toEqual(['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4']);
      const logitsOf: Partial<Record<string, Float32Array>> = {};
      for (const dtype of dtypes) {
        const file = result.report.entries.find((e) => e.dtype === dtype)!.file;
        const ref = (await runModel(join(dir, 'onnx', file), { input_ids: new Tensor('int64', [1, ids.length], ids) })).logits!
          .data as Float32Array;
        const model = await t.AutoModelForCausalLM.from_pretrained('gpt-bytes', { dtype });
        const got = (await model(enc)).logits.data as Float32Array;
        expect(got.length, dtype).toBe(ref.length);
        let maxAbs = 0;
        for (let i = 0; i < ref.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i]! - ref[i]!));
        expect(maxAbs, dtype).toBeLessThanOrEqual(1e-4);
        // the client read a quantized file, not model.onnx, and for bnb4 not q4's (q8 and int8 are the same file on the GPT)
        for (const other of dtype === 'bnb4' ? ['fp32', 'q4'] : dtype === 'fp32' ? [] : ['fp32'])
          expect(
            logitsOf[other]!.some((v, i) => v !== got[i]),
            `${dtype} vs ${other}`,
          ).toBe(true);
        logitsOf[dtype] = got;
        const next = argmaxLast(ref, meta.vocab);
        const out = await model.generate({ ...enc, max_new_tokens: 1, do_sample: false });
        expect(tok.decode(out[0], { skip_special_tokens: false }), dtype).toBe(text + String.fromCharCode(next));
        // Text: 12 greedy bytes, each step the client's forward on the whole context vs onnxruntime-node's.
        // (generate() past the first token feeds only the newest token, expecting a KV cache this export lacks.)
        let ctxClient = [...ids];
        let ctxNode = [...ids];
        for (let i = 0; i < 12; i++) {
          const x = BigInt64Array.from(ctxClient);
          const l = (
            await model({
              input_ids: new t.Tensor('int64', x, [1, x.length]),
              attention_mask: new t.Tensor(
                'int64',
                x.map(() => 1n),
                [1, x.length],
              ),
            })
          ).logits.data;
          ctxClient = [...ctxClient, BigInt(argmaxLast(l as Float32Array, meta.vocab))];
          const y = BigInt64Array.from(ctxNode);
          const r = (await runModel(join(dir, 'onnx', file), { input_ids: new Tensor('int64', [1, y.length], y) })).logits!
            .data as Float32Array;
          ctxNode = [...ctxNode, BigInt(argmaxLast(r, meta.vocab))];
        }
        const textOf = (c: bigint[]) => tok.decode(c.map(Number), { skip_special_tokens: false }) as string;
        expect(textOf(ctxClient), dtype).toBe(textOf(ctxNode));
        expect(textOf(ctxClient).length, dtype).toBe(text.length + 12);
        await model.dispose();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 600_000);
});
