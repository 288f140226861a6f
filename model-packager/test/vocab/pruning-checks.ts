/** Test helpers: the checks every vocabulary-pruning test makes, whatever the tokenizer model (WordPiece, Unigram). */
import type { Tokenizer } from '@huggingface/tokenizers';
import { expect } from 'vitest';
import { initializerMap } from '../../src/onnx/graph.js';
import type { ModelProto } from '../../src/onnx/proto.js';
import { readFloat32 } from '../../src/onnx/tensor.js';
import { type HiddenStates, maxAbsDifference } from './embedder.js';

export interface PrunedPair {
  original: Tokenizer;
  pruned: Tokenizer;
  /** Old id -> new id, or -1 where the token was removed. */
  oldToNew: Int32Array;
  originalStates: HiddenStates;
  prunedStates: HiddenStates;
}

/** Each text keeps its pieces (ids renumbered by oldToNew) and its last hidden states, to 1e-5. */
export async function expectSamePiecesAndStates(texts: readonly string[], pair: PrunedPair): Promise<void> {
  for (const text of texts) {
    const before = pair.original.encode(text);
    const after = pair.pruned.encode(text);
    expect(after.tokens, text).toEqual(before.tokens);
    expect(after.ids, text).toEqual(before.ids.map((id) => pair.oldToNew[id]));
    const diff = maxAbsDifference(await pair.originalStates.run(before.ids), await pair.prunedStates.run(after.ids));
    expect(diff, text).toBeLessThan(1e-5);
  }
}

/** The pruned word-embedding table holds, at each kept token's new id, the original row of its old id. */
export function expectGatheredRows(
  originalModel: ModelProto,
  prunedModel: ModelProto,
  initializer: string,
  hidden: number,
  oldToNew: Int32Array,
): void {
  const before = readFloat32(initializerMap(originalModel.graph as never).get(initializer)!);
  const after = readFloat32(initializerMap(prunedModel.graph as never).get(initializer)!);
  oldToNew.forEach((newId, oldId) => {
    if (newId >= 0)
      expect(after.subarray(newId * hidden, newId * hidden + hidden)).toEqual(
        before.subarray(oldId * hidden, oldId * hidden + hidden),
      );
  });
}
