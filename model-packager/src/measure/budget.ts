import { PackError } from '../errors.js';
import { consumerMap } from '../onnx/graph.js';
import type { ModelProto, TensorProto } from '../onnx/proto.js';
import { tensorByteLength } from '../onnx/tensor.js';

/** The Workers isolate memory limit the WASM heap is checked against. */
export const ISOLATE_MEMORY_BYTES = 128 * 1024 * 1024;
/** Largest Workers KV value: the default bundle byte budget. */
export const KV_VALUE_BYTES = 25 * 1024 * 1024;

export interface SizeBreakdown {
  total: number;
  embeddings: number;
  layers: number;
  tokenizer: number;
}

/**
 * Splits stored bytes into embedding tables (initializers read by a Gather: word, position and token-type tables and
 * their quantization scales), everything else in the graph (layers), and the tokenizer file.
 */
export function sizeBreakdown(model: ModelProto, modelFileBytes: number, tokenizerBytes: number): SizeBreakdown {
  const consumers = consumerMap(model.graph as never);
  let embeddings = 0;
  for (const tensor of model.graph!.initializer as TensorProto[]) {
    const readers = consumers.get(tensor.name) ?? [];
    if (readers.length > 0 && readers.every((n) => n.opType === 'Gather' && n.input[0] === tensor.name)) {
      embeddings += tensorByteLength(tensor);
    }
  }
  return {
    total: modelFileBytes + tokenizerBytes,
    embeddings,
    layers: modelFileBytes - embeddings,
    tokenizer: tokenizerBytes,
  };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

/** Refuses a bundle that would not fit a KV value budget or whose WASM heap would not fit the isolate. */
export function checkBudget(
  sizes: SizeBreakdown,
  heapBytes: number,
  limits: { maxBytes: number; maxHeapBytes: number },
): void {
  const breakdown = [
    `embeddings ${mib(sizes.embeddings)}`,
    `layers ${mib(sizes.layers)}`,
    `tokenizer ${mib(sizes.tokenizer)}`,
    `total ${mib(sizes.total)} (limit ${mib(limits.maxBytes)})`,
    `WASM heap after session creation ${mib(heapBytes)} (limit ${mib(limits.maxHeapBytes)})`,
  ];
  if (sizes.total > limits.maxBytes) {
    throw new PackError(
      'budget',
      `bundle is ${mib(sizes.total)}, over the --max-bytes budget of ${mib(limits.maxBytes)}`,
      breakdown,
    );
  }
  if (heapBytes > limits.maxHeapBytes) {
    throw new PackError(
      'budget',
      `WASM heap after session creation is ${mib(heapBytes)}, over ${mib(limits.maxHeapBytes)}`,
      breakdown,
    );
  }
}
