/**
 * Which tokens survive pruning: the ones every text may need (special tokens, single characters and their
 * continuation / word-start forms, byte-fallback pieces), then the most frequent ones the counts use; a BPE token
 * comes with every token its merges are built from.
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
 * - BPE: every one-character token (for byte-level BPE, the 256 byte symbols), from which merges start;
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
  } else if (table.kind === 'BPE') {
    for (const [token, id] of idOf) if (isSingleChar(token)) required.add(id);
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
 * For a BPE table, the ids of the tokens a token is merged from, recursively (every merge that yields it, since which
 * one applies depends on the word). BPE only reaches a token through its parts, so a kept token needs all of them.
 */
function bpeAncestors(table: VocabTable): (id: number) => number[] {
  const idOf = new Map<string, number>();
  table.tokens.forEach((token, id) => {
    if (token !== undefined && !idOf.has(token)) idOf.set(token, id);
  });
  const parents = new Map<string, string[]>();
  for (const [left, right] of table.merges) {
    const list = parents.get(left + right) ?? [];
    list.push(left, right);
    parents.set(left + right, list);
  }
  return (id) => {
    const found = new Set<number>();
    const stack = [table.tokens[id] ?? ''];
    while (stack.length > 0) {
      for (const part of parents.get(stack.pop() as string) ?? []) {
        const partId = idOf.get(part);
        if (partId === undefined || found.has(partId)) continue;
        found.add(partId);
        stack.push(part);
      }
    }
    return [...found];
  };
}

/**
 * Required ids plus the most frequent counted ids, up to maxVocab (ties broken by original id). A BPE token is kept
 * only with all its merge parts, and only if they fit together. When the required ids alone exceed maxVocab they are
 * all kept anyway; the caller reports it.
 */
export function chooseKeptIds(table: VocabTable, counts: TokenCounts, maxVocab: number): KeepSet {
  const required = requiredTokenIds(table);
  const candidates = [...counts]
    .filter(([id, count]) => count > 0 && !required.has(id) && table.tokens[id] !== undefined)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const room = Math.max(0, maxVocab - required.size);
  const ancestors = table.kind === 'BPE' ? bpeAncestors(table) : () => [];
  const chosen = new Set<number>();
  let usedButDropped = 0;
  for (const [id] of candidates) {
    if (chosen.has(id)) continue;
    const bring = [id, ...ancestors(id)].filter((other) => !required.has(other) && !chosen.has(other));
    if (chosen.size + bring.length <= room) for (const other of bring) chosen.add(other);
    else usedButDropped++;
  }
  const kept = [...required, ...chosen].sort((a, b) => a - b);
  return { kept, required: required.size, fromCounts: chosen.size, usedButDropped };
}
