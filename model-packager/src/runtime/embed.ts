import { Tokenizer } from '@huggingface/tokenizers';
import type { BundleManifest } from '../../../bundle-format/manifest.js';
import { createWasmSession, ort } from './ort-node.js';

/** What is needed to turn texts into vectors with a pooled graph (a bundle, or a fidelity reference). */
export interface EmbedderSpec {
  modelBytes: Uint8Array;
  tokenizerJson: object;
  tokenizerConfig: object;
  inputs: BundleManifest['inputs'];
  inputDtype: BundleManifest['inputDtype'];
  maxTokens: number;
  /** Graph output holding the pooled vectors. */
  output: string;
}

export interface Embedder {
  /** Token ids per text, truncated to maxTokens with the template's special tokens kept. */
  tokenize(text: string): number[];
  embed(texts: string[], onBatch?: (done: number) => void): Promise<Float32Array[]>;
  release(): Promise<void>;
}

/**
 * Counts how many special tokens the tokenizer's template puts before and after the text, so truncation can cut the
 * text and keep [CLS] ... [SEP] (or nothing, for tokenizers without a template).
 */
function templateShape(tokenizer: Tokenizer): { head: number; tail: number } {
  const bare = tokenizer.encode('a', { add_special_tokens: false }).ids;
  const full = tokenizer.encode('a', { add_special_tokens: true }).ids;
  for (let head = 0; head + bare.length <= full.length; head++) {
    if (bare.every((id, i) => full[head + i] === id)) return { head, tail: full.length - head - bare.length };
  }
  return { head: 0, tail: 0 };
}

/**
 * Runs a pooled ONNX graph with onnxruntime-web (WASM, one thread) in Node.
 *
 * @example
 *   const embedder = await createEmbedder(spec); const [v] = await embedder.embed(['hello']);
 */
export async function createEmbedder(spec: EmbedderSpec, batchSize = 16): Promise<Embedder> {
  const tokenizer = new Tokenizer(spec.tokenizerJson, spec.tokenizerConfig);
  const { tail } = templateShape(tokenizer);
  const session = await createWasmSession(spec.modelBytes);

  const tokenize = (text: string): number[] => {
    const ids = tokenizer.encode(text, { add_special_tokens: true }).ids;
    if (ids.length <= spec.maxTokens) return ids;
    return [...ids.slice(0, spec.maxTokens - tail), ...ids.slice(ids.length - tail)].slice(0, spec.maxTokens);
  };

  const toTensor = (values: number[], shape: number[]) =>
    spec.inputDtype === 'int64'
      ? new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), shape)
      : new ort.Tensor('int32', Int32Array.from(values), shape);

  async function runBatch(batch: number[][]): Promise<Float32Array[]> {
    const length = Math.max(1, ...batch.map((ids) => ids.length));
    const ids: number[] = [];
    const mask: number[] = [];
    for (const row of batch) {
      for (let i = 0; i < length; i++) {
        ids.push(i < row.length ? row[i] : 0);
        mask.push(i < row.length ? 1 : 0);
      }
    }
    const shape = [batch.length, length];
    const feeds: Record<string, ort.Tensor> = { input_ids: toTensor(ids, shape), attention_mask: toTensor(mask, shape) };
    if (spec.inputs.includes('token_type_ids')) feeds.token_type_ids = toTensor(new Array(ids.length).fill(0), shape);
    const result = await session.run(feeds);
    const out = result[spec.output];
    const data = out.data as Float32Array;
    const dim = out.dims[out.dims.length - 1];
    return batch.map((_, i) => data.slice(i * dim, (i + 1) * dim));
  }

  return {
    tokenize,
    async embed(texts, onBatch) {
      const tokenized = texts.map(tokenize);
      const vectors: Float32Array[] = [];
      for (let start = 0; start < tokenized.length; start += batchSize) {
        vectors.push(...(await runBatch(tokenized.slice(start, start + batchSize))));
        onBatch?.(Math.min(batchSize, tokenized.length - start));
      }
      return vectors;
    },
    release: () => session.release(),
  };
}

/** Cosine similarity of two vectors (0 when either is all zeros). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
