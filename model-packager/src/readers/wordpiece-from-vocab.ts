/**
 * Builds a Hugging Face tokenizer.json (BERT WordPiece) from a vocab.txt, for exports that ship only vocab.txt.
 * The structure is what `BertTokenizerFast` saves, so @huggingface/tokenizers loads it like any other.
 */
export function wordPieceTokenizerFromVocab(
  vocabText: string,
  tokenizerConfig: Record<string, unknown>,
): Record<string, unknown> {
  const tokens = vocabText.split(/\r?\n/);
  if (tokens.at(-1) === '') tokens.pop();
  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => {
    if (!(token in vocab)) vocab[token] = id;
  });
  const special = (key: string, fallback: string) =>
    typeof tokenizerConfig[key] === 'string' ? (tokenizerConfig[key] as string) : fallback;
  const cls = special('cls_token', '[CLS]');
  const sep = special('sep_token', '[SEP]');
  const unk = special('unk_token', '[UNK]');
  const specials = [special('pad_token', '[PAD]'), unk, cls, sep, special('mask_token', '[MASK]')].filter(
    (t) => t in vocab,
  );
  const lowercase = tokenizerConfig.do_lower_case !== false;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: tokenizerConfig.strip_accents ?? null,
      lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [vocab[cls]], tokens: [cls] },
        [sep]: { id: sep, ids: [vocab[sep]], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: unk, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}
