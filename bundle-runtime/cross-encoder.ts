/**
 * The cross-encoder: scores (query, document) pairs for re-ranking. Pairs are framed and cut by the bundle's tokenizer
 * (the document is cut, never the query), batched and run by the {@link Embedder} (the same planner, queue and
 * counters as embeddings), and their logits turned into scores by the bundle's activation. The worker and the
 * packager's fidelity check both score through it. Every pair's token types go to the engine with its ids: an engine
 * must honour them (ONNX Runtime feeds them to token_type_ids, the plan reference picks token-type rows by them), or
 * the document is read as if it were more query.
 */
import type { PairFraming, ScoreActivation } from '../bundle-format/manifest.js';
import type { Embedder, EmbedOptions } from './embedder.js';
import type { BundleTokenizer, PairTemplate, TokenizedPair, TruncationDirection } from './tokenizer.js';

export interface PairOptions {
  /** false: a pair longer than the model's max tokens is refused ({@link DocumentTooLongError}) instead of cut. */
  truncate: boolean;
  /** Which end of the document is cut. */
  direction: TruncationDirection;
}

export const DEFAULT_PAIR_OPTIONS: PairOptions = { truncate: true, direction: 'right' };

/** A pair longer than the model takes, with truncation off; names the document by its index in the request. */
export class DocumentTooLongError extends Error {
  constructor(
    readonly documentIndex: number,
    readonly tokens: number,
    readonly maxTokens: number,
  ) {
    super(
      `document ${documentIndex} makes a pair of ${tokens} tokens with the query; the model takes at most ${maxTokens} (truncation is off)`,
    );
    this.name = 'DocumentTooLongError';
  }
}

export interface CrossEncoderSpec {
  maxTokens: number;
  activation: ScoreActivation;
}

/**
 * The raw score of one pair's logits: the logit (one logit), or the chosen logit minus the other (two), so that
 * {@link sigmoid} of it is the activated score either way (softmax over two logits is a sigmoid of their difference).
 * @example rawScore([0.2, 1.7], { type: 'softmax', index: 1 }) // 1.5
 */
export function rawScore(logits: ArrayLike<number>, activation: ScoreActivation): number {
  if (activation.type === 'sigmoid') return logits[0];
  return logits[activation.index] - logits[1 - activation.index];
}

/** @example sigmoid(0) // 0.5 */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * The name of a tokenizer's pair framing, or null for one the manifest cannot name.
 * @example pairFramingOf(tokenizer.pairTemplate()) // 'bert' for [CLS] q [SEP] d [SEP]
 */
export function pairFramingOf(template: PairTemplate): PairFraming | null {
  const shape = [template.prefix.length, template.middle.length, template.suffix.length].join(',');
  if (shape === '1,1,1') return 'bert';
  if (shape === '1,2,1' && template.middle[0] === template.middle[1]) return 'roberta';
  return null;
}

export class CrossEncoder {
  constructor(
    readonly embedder: Embedder,
    readonly tokenizer: BundleTokenizer,
    readonly spec: CrossEncoderSpec,
  ) {}

  /**
   * The query paired with each document, framed and cut to the model's max tokens.
   * @example encoder.tokenizePairs('capital of france', ['Paris is the capital.'], DEFAULT_PAIR_OPTIONS)
   */
  tokenizePairs(query: string, documents: readonly string[], options: PairOptions): TokenizedPair[] {
    return documents.map((document, index) => {
      const pair = this.tokenizer.encodePair(query, document, this.spec.maxTokens, options.direction);
      if (!options.truncate && pair.fullLength > this.spec.maxTokens) {
        throw new DocumentTooLongError(index, pair.fullLength, this.spec.maxTokens);
      }
      return pair;
    });
  }

  /** One raw score per tokenized pair, in order, from length-sorted micro-batches. */
  async rawScores(pairs: readonly TokenizedPair[], options: EmbedOptions = {}): Promise<number[]> {
    const logits = await this.embedder.embedAll(
      pairs.map((pair) => pair.ids),
      { ...options, tokenTypes: pairs.map((pair) => pair.typeIds) },
    );
    return logits.map((row) => rawScore(row, this.spec.activation));
  }

  /**
   * Activated relevance scores (0..1) of the query against each document, in document order.
   * @example await encoder.score('capital of france', ['Paris is the capital.', 'Bananas are yellow.'])
   */
  async score(query: string, documents: readonly string[], options: PairOptions = DEFAULT_PAIR_OPTIONS) {
    const raw = await this.rawScores(this.tokenizePairs(query, documents, options));
    return raw.map(sigmoid);
  }

  release(): Promise<void> {
    return this.embedder.release();
  }
}
