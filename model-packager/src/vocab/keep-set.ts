/**
 * Which tokens survive pruning: the ones every text may need (special tokens, single characters and their
 * continuation / word-start forms, byte-fallback pieces), then the most frequent ones the counts use.
 */
import type { TokenCounts } from './token-counts.js';
import type { VocabTable } from './tokenizer-json.js';

const BYTE_PIECE = /^<0x[0-9A-Fa-f]{2}>$/;

export interface KeepSet {
  /** Kept original ids, ascending (their position is the new id). */
  kept: number[];
  /** How many of them are kept whatever the counts say. */
  required: number;
  /** How many were kept because the counts use them. */
  fromCounts: number;
  /** Tokens the counts use that did not fit under maxVocab. */
  usedButDropped: number;
}

const isSingleChar = (s: string): boolean => s.length > 0 && s.length <= 2 && [...s].length === 1;

/**
 * The ids pruning must keep so that any text still tokenizes without new unknown tokens:
 * - special tokens (added tokens, post-processor and padding tokens, the unknown token);
 * - WordPiece: every one-character token and its continuation form ("a", "##a");
 * - Unigram: every one-character piece and its word-start form ("a", "▁a"), the byte pieces when the model has
 *   byte_fallback, and the lowest-scored piece (the unknown-token penalty is derived from the minimum score);
 * - any token holding a character that has no one-character token of the form it would need, since only such
 *   longer tokens can spell that character.
 */
export function requiredTokenIds(table: VocabTable): Set<number> {
  const required = new Set(table.specialIds);
  const idOf = new Map<string, number>();
  table.tokens.forEach((token, id) => {
    if (token !== undefined && !table.specialIds.has(id)) idOf.set(token, id);
  });
  const keepIfPresent = (token: string): void => {
    const id = idOf.get(token);
    if (id !== undefined) required.add(id);
  };

  if (table.kind === 'WordPiece') {
    const prefix = table.continuingPrefix;
    for (const [token, id] of idOf) {
      const continuation = token.startsWith(prefix) && token.length > prefix.length;
      const chars = [...(continuation ? token.slice(prefix.length) : token)];
      if (chars.length === 1) {
        required.add(id);
        keepIfPresent(continuation ? chars[0]! : prefix + chars[0]!);
      }
      const spellable = chars.every((c, i) => idOf.has(i === 0 && !continuation ? c : prefix + c));
      if (!spellable) required.add(id);
    }
  } else {
    const marker = table.wordStartMarker;
    for (const [token, id] of idOf) {
      if (table.byteFallback && BYTE_PIECE.test(token)) {
        required.add(id);
        continue;
      }
      if (isSingleChar(token)) {
        required.add(id);
        if (marker) keepIfPresent(marker + token);
      } else if (marker && token.startsWith(marker) && isSingleChar(token.slice(marker.length))) {
        required.add(id);
      }
      // Unigram inserts an unknown node wherever no one-character piece starts; only longer pieces spell such a char.
      if (![...token].every((c) => idOf.has(c))) required.add(id);
    }
    let lowest: number | undefined;
    table.scores.forEach((score, id) => {
      if (lowest === undefined || score < table.scores[lowest]!) lowest = id;
    });
    if (lowest !== undefined) required.add(lowest);
  }
  return required;
}

/**
 * Required ids plus the most frequent counted ids, up to maxVocab (ties broken by original id). When the required
 * ids alone exceed maxVocab they are all kept anyway; the caller reports it.
 */
export function chooseKeptIds(table: VocabTable, counts: TokenCounts, maxVocab: number): KeepSet {
  const required = requiredTokenIds(table);
  const candidates = [...counts]
    .filter(([id, count]) => count > 0 && !required.has(id) && table.tokens[id] !== undefined)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const room = Math.max(0, maxVocab - required.size);
  const chosen = candidates.slice(0, room).map(([id]) => id);
  const kept = [...required, ...chosen].sort((a, b) => a - b);
  return {
    kept,
    required: required.size,
    fromCounts: chosen.length,
    usedButDropped: candidates.length - chosen.length,
  };
}
