import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackError } from '../../src/errors.js';
import { bertBaseUncasedVocab, buildBertModel, FIXTURE_PRESETS } from '../../src/fixtures/bert-fixture.js';
import { bertTokenizerJson } from '../../src/fixtures/model-files.js';
import { initializerMap } from '../../src/onnx/graph.js';
import type { ModelProto, NodeProto, TensorProto } from '../../src/onnx/proto.js';
import { tensorDims } from '../../src/onnx/tensor.js';
import { inspectBertGraph } from '../../src/passes/inspect-bert-graph.js';
import { pruneVocabulary } from '../../src/passes/prune-vocabulary.js';
import { countTokens } from '../../src/vocab/token-counts.js';
import { type HiddenStates, hiddenStates } from '../vocab/embedder.js';
import { expectGatheredRows, expectSamePiecesAndStates } from '../vocab/pruning-checks.js';

const VOCAB = bertBaseUncasedVocab();
const MAX_VOCAB = 2600;

const CORPUS = [
  'The invoice was paid by bank transfer on Monday.',
  'Please reset my password, I cannot log in to the dashboard.',
  'Our shipment arrived late and two boxes were damaged.',
  'How do I change the billing address on my account?',
  'The refund should appear on your card within five business days.',
  'Customers can export their reports as spreadsheets or documents.',
  'We upgraded the subscription plan to include more storage.',
  'The mobile app crashes when I upload a photo of the receipt.',
  "Can you send me a copy of last month's statement?",
  'Delivery times depend on the warehouse closest to you.',
  'Two-factor authentication protects accounts from unauthorised access.',
  'The support team answers tickets in the order they arrive.',
];

/** Not in the corpus: some words are (recombinations of corpus words), some are not (removed tokens). */
const HELD_OUT = [
  'The dashboard crashes when I export the invoice.',
  'Please send the refund to my bank account on Monday.',
  'A zebra and a giraffe walked through the savanna at dusk.',
  'Quantum chromodynamics describes gluons binding quarks.',
  'Café crème brûlée, naïve résumé — and 東京 with 🙂 emoji!',
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
];

function bertModel(): ModelProto {
  return buildBertModel(FIXTURE_PRESETS.tiny, VOCAB.length);
}

const EMBEDDING = inspectBertGraph(bertModel()).wordEmbedding;

function tokenizerJson(): Record<string, unknown> {
  return bertTokenizerJson(VOCAB, 128) as Record<string, unknown>;
}

const unkCount = (tokens: string[]) => tokens.filter((t) => t === '[UNK]').length;

describe('pruneVocabulary (WordPiece, bert-base-uncased vocabulary, tiny BERT fixture)', () => {
  const originalJson = tokenizerJson();
  const original = new Tokenizer(originalJson, {});
  let originalStates: HiddenStates;
  let prunedStates: HiddenStates;
  let originalModel: ModelProto;
  let result: ReturnType<typeof pruneVocabulary>;
  let pruned: Tokenizer;

  beforeAll(async () => {
    originalModel = bertModel();
    originalStates = await hiddenStates(originalModel);
    const model = bertModel();
    result = pruneVocabulary(model, originalJson, EMBEDDING, countTokens(originalJson, CORPUS), {
      maxVocab: MAX_VOCAB,
      heldOutTexts: HELD_OUT,
    });
    prunedStates = await hiddenStates(result.model);
    pruned = new Tokenizer(result.tokenizerJson, {});
  });
  afterAll(async () => {
    await originalStates?.release();
    await prunedStates?.release();
  });

  it('shrinks the vocabulary and reports kept and removed counts', () => {
    const { report } = result;
    expect(report.before).toBe(30522);
    expect(report.after).toBeLessThanOrEqual(MAX_VOCAB);
    expect(report.kept).toBe(report.after);
    expect(report.removed).toBe(report.before - report.after);
    expect(report.fromCounts).toBeGreaterThan(50);
    expect(report.required + report.fromCounts).toBe(report.after);
    expect(pruned.get_vocab().size).toBe(report.after);
    const table = initializerMap(result.model.graph as never).get(EMBEDDING.initializer)!;
    expect(tensorDims(table)).toEqual([report.after, FIXTURE_PRESETS.tiny.hidden]);
  });

  it('renumbers ids densely in original order and gathers the matching embedding rows', () => {
    const kept = [...result.oldToNew.entries()].filter(([, n]) => n >= 0);
    expect(kept.map(([, n]) => n)).toEqual(kept.map((_, i) => i));
    for (const [oldId, newId] of kept) expect(pruned.id_to_token(newId)).toBe(original.id_to_token(oldId));
    expectGatheredRows(
      originalModel,
      result.model,
      EMBEDDING.initializer,
      FIXTURE_PRESETS.tiny.hidden,
      result.oldToNew,
    );
  });

  it('keeps special tokens, every single character and its ## form', () => {
    for (const token of ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'q', '##q', '東', '##東', '!', '##!']) {
      expect(pruned.token_to_id(token), token).toBeDefined();
    }
    expect(pruned.token_to_id('giraffe')).toBeUndefined();
  });

  it('gives texts that use only kept tokens the same pieces and the same hidden states', async () => {
    const words = CORPUS.join(' ').split(/\s+/);
    const recombined = Array.from({ length: 8 }, (_, i) => words.filter((_, j) => j % (i + 3) === 0).join(' '));
    const candidates = [...CORPUS, ...HELD_OUT, ...recombined, 'ZEBRA!? q-x 42', 'Ünïcödé ñ'];
    const usable = candidates.filter((text) => original.encode(text).ids.every((id) => result.oldToNew[id]! >= 0));
    expect(usable.filter((t) => !CORPUS.includes(t)).length).toBeGreaterThanOrEqual(8);
    await expectSamePiecesAndStates(usable, {
      original,
      pruned,
      oldToNew: result.oldToNew,
      originalStates,
      prunedStates,
    });
  });

  it('tokenizes text with removed words without any new [UNK]', () => {
    let changedWords = 0;
    for (const text of HELD_OUT) {
      const before = original.encode(text).tokens;
      const after = pruned.encode(text).tokens;
      expect(unkCount(after), text).toBe(unkCount(before));
      if (before.join(' ') !== after.join(' ')) changedWords++;
    }
    expect(changedWords).toBeGreaterThanOrEqual(3);
    const giraffe = pruned.encode('giraffe');
    expect(giraffe.tokens.length).toBeGreaterThan(original.encode('giraffe').tokens.length);
    expect(pruned.decode(giraffe.ids, { skip_special_tokens: true })).toBe('giraffe');
  });

  it('measures the share of held-out words whose tokenization changed', () => {
    let words = 0;
    let changed = 0;
    for (const word of HELD_OUT.join(' ').split(/\s+/)) {
      words++;
      if (original.tokenize(word).join(' ') !== pruned.tokenize(word).join(' ')) changed++;
    }
    expect(result.report.changedWordShare).toBeCloseTo(changed / words, 10);
    expect(result.report.changedWordShare).toBeGreaterThan(0.2);
    expect(result.report.changedWordShare).toBeLessThan(1);
    expect(result.report.changedWordExamples.map((e) => e.word)).toContain('giraffe');
  });

  it('remaps the special-token ids of the post-processor and added tokens', () => {
    const json = result.tokenizerJson as {
      added_tokens: { content: string; id: number }[];
      post_processor: { special_tokens: Record<string, { ids: number[] }> };
    };
    for (const added of json.added_tokens) expect(pruned.id_to_token(added.id)).toBe(added.content);
    expect(json.post_processor.special_tokens['[CLS]']!.ids).toEqual([pruned.token_to_id('[CLS]')]);
    expect(json.post_processor.special_tokens['[SEP]']!.ids).toEqual([pruned.token_to_id('[SEP]')]);
    const ids = pruned.encode('invoice').ids;
    expect([ids[0], ids.at(-1)]).toEqual([pruned.token_to_id('[CLS]'), pruned.token_to_id('[SEP]')]);
    expect(originalJson.added_tokens).toEqual(tokenizerJson().added_tokens); // the input is not modified
  });

  it('changes only the word-embedding initializer of the graph', () => {
    const sameExceptTable = (m: ModelProto) => ({
      nodes: (m.graph!.node as NodeProto[]).map((n) => JSON.stringify(n.toJSON())),
      initializers: (m.graph!.initializer as TensorProto[])
        .filter((t) => t.name !== EMBEDDING.initializer)
        .map((t) => [t.name, tensorDims(t), Buffer.from(t.rawData).toString('base64')]),
    });
    expect(sameExceptTable(result.model)).toEqual(sameExceptTable(originalModel));
  });
});

describe('pruneVocabulary options and refusals', () => {
  const json = tokenizerJson();
  const counts = countTokens(json, CORPUS);

  it('keeps every required token when they alone exceed maxVocab, and says so', () => {
    const { report } = pruneVocabulary(bertModel(), json, EMBEDDING, counts, { maxVocab: 100 });
    expect(report.after).toBe(report.required);
    expect(report.after).toBeGreaterThan(100);
    expect(report.fromCounts).toBe(0);
    expect(report.notes.join(' ')).toMatch(/exceed --max-vocab 100/);
  });

  it.each([0, -5, 2.5, Number.NaN])('refuses maxVocab %s', (maxVocab) => {
    expect(() => pruneVocabulary(bertModel(), json, EMBEDDING, counts, { maxVocab })).toThrow(
      expect.objectContaining({ kind: 'bad-option' }),
    );
  });

  it('remaps padding.pad_id and keeps the pad token', () => {
    const padded = {
      ...json,
      padding: { strategy: 'BatchLongest', direction: 'Right', pad_id: 0, pad_type_id: 0, pad_token: '[PAD]' },
    };
    const out = pruneVocabulary(bertModel(), padded, EMBEDDING, counts, { maxVocab: 3000 });
    expect((out.tokenizerJson as { padding: { pad_id: number } }).padding.pad_id).toBe(out.oldToNew[0]);
  });

  it('refuses a tokenizer with more tokens than the embedding table has rows', () => {
    const model = buildBertModel(FIXTURE_PRESETS.tiny, 30000);
    const attempt = () => pruneVocabulary(model, json, EMBEDDING, counts, { maxVocab: 3000 });
    expect(attempt).toThrow(PackError);
    expect(attempt).toThrow(expect.objectContaining({ kind: 'vocab-mismatch' }));
  });

  it('refuses a graph whose named Gather does not read the table', () => {
    const attempt = () =>
      pruneVocabulary(bertModel(), json, { ...EMBEDDING, gatherNode: 'nope' }, counts, { maxVocab: 3000 });
    expect(attempt).toThrow(expect.objectContaining({ kind: 'unsupported-graph' }));
  });

  it('refuses a WordLevel tokenizer and BPE merges it cannot read', () => {
    const wordLevel = { ...json, model: { type: 'WordLevel', vocab: {}, unk_token: '[UNK]' } };
    expect(() => pruneVocabulary(bertModel(), wordLevel, EMBEDDING, counts, { maxVocab: 3000 })).toThrow(
      /WordPiece, Unigram and BPE tokenizers; this tokenizer.json has a WordLevel model/,
    );
    const { vocab } = json.model as { vocab: Record<string, number> };
    const bpe = { ...json, model: { type: 'BPE', vocab, merges: ['a b', 'ab'] } };
    expect(() => pruneVocabulary(bertModel(), bpe, EMBEDDING, counts, { maxVocab: 3000 })).toThrow(
      /BPE merge 1 is "ab", expected "left right"/,
    );
  });
});
