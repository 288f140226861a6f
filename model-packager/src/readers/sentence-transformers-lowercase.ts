/**
 * sentence-transformers' Transformer module lower-cases every text before the tokenizer sees it when
 * sentence_bert_config.json says `do_lower_case: true`, whatever the tokenizer does itself (a cased one included). A
 * bundle carries only tokenizer.json, so that step is folded into it: a Lowercase normalizer ahead of the tokenizer's
 * own. Python's `str.lower()` does not strip accents, and neither does this.
 */

type Normalizer = { type?: string; lowercase?: boolean; normalizers?: Normalizer[] } | null | undefined;

/** True when the normalizer (or a step of its Sequence) already lower-cases. */
function lowercases(normalizer: Normalizer): boolean {
  if (!normalizer) return false;
  if (normalizer.type === 'Lowercase') return true;
  if (normalizer.type === 'BertNormalizer') return normalizer.lowercase === true;
  return normalizer.type === 'Sequence' && (normalizer.normalizers ?? []).some(lowercases);
}

/**
 * tokenizer.json as sentence-transformers applies it: unchanged unless `do_lower_case` is true and the tokenizer does
 * not lower-case already.
 *
 * @example
 *   withSentenceTransformersLowercase(casedBert, { do_lower_case: true }).normalizer.type; // "Sequence"
 */
export function withSentenceTransformersLowercase(
  tokenizerJson: Record<string, unknown>,
  stConfig: Record<string, unknown>,
): Record<string, unknown> {
  const normalizer = tokenizerJson.normalizer as Normalizer;
  if (stConfig.do_lower_case !== true || lowercases(normalizer)) return tokenizerJson;
  const lowercase = { type: 'Lowercase' };
  const steps = !normalizer ? [] : normalizer.type === 'Sequence' ? (normalizer.normalizers ?? []) : [normalizer];
  return {
    ...tokenizerJson,
    normalizer: steps.length === 0 ? lowercase : { type: 'Sequence', normalizers: [lowercase, ...steps] },
  };
}
