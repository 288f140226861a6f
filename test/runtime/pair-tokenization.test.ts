/**
 * Pair tokenization for cross-encoders: the framing each family's post-processor adds, and "only_second" truncation
 * (the document is cut, never the query; with truncation off, the document is named).
 */
import { describe, expect, it } from 'vitest';
import {
  CrossEncoder,
  DocumentTooLongError,
  pairFramingOf,
  rawScore,
  sigmoid,
} from '../../bundle-runtime/cross-encoder.js';
import { Embedder } from '../../bundle-runtime/embedder.js';
import type { InferenceEngine } from '../../bundle-runtime/engine.js';
import { BundleTokenizer, QueryTooLongError } from '../../bundle-runtime/tokenizer.js';
import { bertBaseUncasedVocab } from '../../model-packager/src/fixtures/bert-vocab.js';
import { bertTokenizerJson } from '../../model-packager/src/fixtures/model-files.js';
import { robertaTokenizerJson } from '../../model-packager/src/fixtures/roberta-files.js';
import { robertaVocab } from '../../model-packager/src/fixtures/roberta-vocab.js';

const bert = new BundleTokenizer(bertTokenizerJson(bertBaseUncasedVocab(), 512), {});
const { vocab, merges } = robertaVocab();
const roberta = new BundleTokenizer(robertaTokenizerJson(vocab, merges, 512), {});
const content = (tokenizer: BundleTokenizer, text: string) => tokenizer.encode(text, 512, 'right').ids.slice(1, -1);
const [CLS, SEP] = [101, 102];
const LONG_DOCUMENT = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');

describe('pair tokenization', () => {
  it('frames a BERT pair as [CLS] q [SEP] d [SEP] with token types 0 then 1', () => {
    const q = content(bert, 'capital of france');
    const d = content(bert, 'paris is the capital');
    const pair = bert.encodePair('capital of france', 'paris is the capital', 512, 'right');
    expect(pair.ids).toEqual([CLS, ...q, SEP, ...d, SEP]);
    expect(pair.typeIds).toEqual([...Array(q.length + 2).fill(0), ...Array(d.length + 1).fill(1)]);
    expect(pair.fullLength).toBe(pair.ids.length);
    expect(pairFramingOf(bert.pairTemplate())).toBe('bert');
  });

  it('frames a RoBERTa pair as <s> q </s></s> d </s>', () => {
    const q = content(roberta, 'capital of france');
    const d = content(roberta, 'paris is the capital');
    const pair = roberta.encodePair('capital of france', 'paris is the capital', 512, 'right');
    expect(pair.ids).toEqual([0, ...q, 2, 2, ...d, 2]);
    expect(pairFramingOf(roberta.pairTemplate())).toBe('roberta');
  });

  it('cuts the document, never the query, to the max tokens, from either end', () => {
    const query = 'what is the capital of france';
    const q = content(bert, query);
    const d = content(bert, LONG_DOCUMENT);
    const right = bert.encodePair(query, LONG_DOCUMENT, 32, 'right');
    const room = 32 - 3 - q.length;
    expect(right.ids).toEqual([CLS, ...q, SEP, ...d.slice(0, room), SEP]);
    expect(right.fullLength).toBe(3 + q.length + d.length);
    const left = bert.encodePair(query, LONG_DOCUMENT, 32, 'left');
    expect(left.ids).toEqual([CLS, ...q, SEP, ...d.slice(d.length - room), SEP]);
    expect(left.typeIds.filter((t) => t === 1)).toHaveLength(room + 1);
  });

  it('refuses a query that leaves no room instead of cutting it', () => {
    expect(() => bert.encodePair(LONG_DOCUMENT, 'short', 16, 'right')).toThrow(QueryTooLongError);
  });
});

/** An engine whose one logit is the number of document tokens (token type 1), so scores are predictable. */
const countingEngine = (runs: number[][][]): InferenceEngine => ({
  name: 'counting',
  async run(sequences, tokenTypes) {
    runs.push(sequences.map((s) => [...s]));
    return sequences.map((_, i) => Float32Array.of((tokenTypes?.[i] ?? []).filter((t) => t === 1).length / 10));
  },
  release: async () => {},
});

describe('CrossEncoder', () => {
  it('feeds token types to the engine and applies the activation', async () => {
    const runs: number[][][] = [];
    const encoder = new CrossEncoder(new Embedder(countingEngine(runs)), bert, {
      maxTokens: 512,
      activation: { type: 'sigmoid' },
    });
    const scores = await encoder.score('capital', ['paris', 'paris is the capital of france']);
    const docTokens = [content(bert, 'paris').length + 1, content(bert, 'paris is the capital of france').length + 1];
    expect(scores).toEqual(docTokens.map((n) => sigmoid(Math.fround(n / 10))));
    expect(runs.flat()).toHaveLength(2);
  });

  it('names the document that does not fit when truncation is off', () => {
    const encoder = new CrossEncoder(new Embedder(countingEngine([])), bert, {
      maxTokens: 32,
      activation: { type: 'sigmoid' },
    });
    const options = { truncate: false, direction: 'right' as const };
    expect(() => encoder.tokenizePairs('query', ['short', LONG_DOCUMENT], options)).toThrow(
      expect.objectContaining({ name: 'DocumentTooLongError', documentIndex: 1 }),
    );
    expect(() => encoder.tokenizePairs('query', ['short', LONG_DOCUMENT], options)).toThrow(DocumentTooLongError);
    expect(
      encoder.tokenizePairs('query', ['short', LONG_DOCUMENT], { ...options, truncate: true })[1].ids,
    ).toHaveLength(32);
  });

  it('scores two logits as softmax at the chosen index', () => {
    const logits = [0.3, 1.9];
    const softmax1 = Math.exp(1.9) / (Math.exp(0.3) + Math.exp(1.9));
    expect(sigmoid(rawScore(logits, { type: 'softmax', index: 1 }))).toBeCloseTo(softmax1, 12);
    expect(sigmoid(rawScore(logits, { type: 'softmax', index: 0 }))).toBeCloseTo(1 - softmax1, 12);
    expect(rawScore([0.7], { type: 'sigmoid' })).toBe(0.7);
  });
});
