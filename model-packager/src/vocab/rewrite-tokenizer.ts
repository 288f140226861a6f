/**
 * Rewrites a tokenizer.json for a pruned vocabulary: every place that holds a token id (model vocabulary, unknown
 * id, added tokens, post-processor special tokens, padding) gets the new dense id, and a BPE model keeps only the
 * merges whose two parts and result all survived, in their original order (so their relative ranks are unchanged).
 */
import type { VocabTable } from './tokenizer-json.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function remapPostProcessor(node: unknown, newId: (id: number) => number): void {
  if (!isObject(node)) return;
  if (isObject(node.special_tokens)) {
    for (const special of Object.values(node.special_tokens)) {
      if (isObject(special) && Array.isArray(special.ids)) special.ids = special.ids.map((id) => newId(id as number));
    }
  }
  for (const key of ['sep', 'cls']) {
    const pair = node[key];
    if (Array.isArray(pair) && pair.length === 2) node[key] = [pair[0], newId(pair[1] as number)];
  }
  if (Array.isArray(node.processors)) for (const p of node.processors) remapPostProcessor(p, newId);
}

/**
 * A copy of `tokenizerJson` holding only the kept tokens, renumbered by `oldToNew` (-1 = removed). The input is
 * not modified; every special id must be kept (pruning guarantees it).
 */
export function rewriteTokenizerJson(tokenizerJson: object, table: VocabTable, oldToNew: Int32Array): object {
  const json = structuredClone(tokenizerJson) as Json;
  const model = json.model as Json;
  const newId = (id: number): number => {
    const mapped = oldToNew[id];
    if (mapped === undefined || mapped < 0)
      throw new Error(`token id ${id} is referenced by tokenizer.json but was pruned`);
    return mapped;
  };

  if (table.kind === 'WordPiece' || table.kind === 'BPE') {
    const entries = Object.entries(model.vocab as Record<string, number>)
      .filter(([, id]) => (oldToNew[id] ?? -1) >= 0)
      .map(([token, id]): [string, number] => [token, newId(id)])
      .sort((a, b) => a[1] - b[1]);
    model.vocab = Object.fromEntries(entries);
    if (table.kind === 'BPE') {
      const kept = new Set(entries.map(([token]) => token));
      const merges = table.merges.filter(
        ([left, right]) => kept.has(left) && kept.has(right) && kept.has(left + right),
      );
      // Write merges back in the form they came in.
      const asStrings = (model.merges as unknown[]).every((merge) => typeof merge === 'string');
      model.merges = merges.map(([left, right]) => (asStrings ? `${left} ${right}` : [left, right]));
    }
  } else {
    model.vocab = (model.vocab as [string, number][]).filter((_, id) => (oldToNew[id] ?? -1) >= 0);
    if (typeof model.unk_id === 'number') model.unk_id = newId(model.unk_id);
  }

  if (Array.isArray(json.added_tokens)) {
    json.added_tokens = json.added_tokens.map((token: Json) => ({ ...token, id: newId(token.id as number) }));
  }
  remapPostProcessor(json.post_processor, newId);
  if (isObject(json.padding) && typeof json.padding.pad_id === 'number')
    json.padding.pad_id = newId(json.padding.pad_id);
  return json;
}
