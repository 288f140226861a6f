/**
 * Retrieval evaluation: every query ranks every document by cosine similarity; recall@k is the share of a query's
 * relevant documents found in its top k (averaged over queries), MRR the mean of 1 / rank of the first relevant one.
 *
 * The relevance file is JSON:
 *   { "documents": { "<id>": "<text>", ... }, "queries": [{ "text": "<query>", "relevant": ["<id>", ...] }, ...] }
 * Every relevant id must name a document. `retrievalFromSts` makes a small set from STS pairs instead: the pairs with
 * gold >= 4 give the queries (first sentence) and their relevant document (second sentence); every distinct second
 * sentence of the file is a document.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { cosine } from '../../../bundle-runtime/similarity.js';
import { PackError } from '../errors.js';
import type { SentenceEmbedder } from './embedders.js';
import type { StsPair } from './sts.js';

export interface RetrievalSet {
  /** Document texts by id. */
  documents: Map<string, string>;
  queries: { text: string; relevant: string[] }[];
}

/** Two-stage ranking as the worker's /v1/rank does it: `embedder` re-scores the first stage's top `topK`. */
export interface Rerank {
  embedder: SentenceEmbedder;
  topK: number;
}

export interface RetrievalResult {
  model: string;
  /** With a rerank: the second stage's model and k. */
  rerank?: { model: string; topK: number };
  queries: number;
  documents: number;
  /** Mean recall@k by k. */
  recall: Record<string, number>;
  mrr: number;
}

const RelevanceFile = z.object({
  documents: z.record(z.string(), z.string()),
  queries: z.array(z.object({ text: z.string(), relevant: z.array(z.string()).min(1) })).min(1),
});

/** Reads and checks a relevance file (format above). */
export async function readRetrievalFile(path: string): Promise<RetrievalSet> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new PackError('bad-input', `cannot read relevance file ${path} (${(err as Error).message})`);
  }
  const parsed = RelevanceFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PackError(
      'bad-input',
      `${path}: ${issue.path.join('.') || '(root)'}: ${issue.message} (expected {"documents": {id: text}, "queries": [{"text", "relevant": [id]}]})`,
    );
  }
  const documents = new Map(Object.entries(parsed.data.documents));
  parsed.data.queries.forEach((query, i) => {
    const unknown = query.relevant.find((id) => !documents.has(id));
    if (unknown !== undefined)
      throw new PackError('bad-input', `${path}: queries.${i}: no document has id "${unknown}"`);
  });
  return { documents, queries: parsed.data.queries };
}

/**
 * @example retrievalFromSts(await readStsFile('sts-dev.csv')).queries.length // the pairs with gold >= 4
 */
export function retrievalFromSts(pairs: readonly StsPair[], minScore = 4): RetrievalSet {
  const documents = new Map<string, string>();
  const idOf = new Map<string, string>();
  for (const pair of pairs) {
    if (!idOf.has(pair.sentence2)) {
      const id = `d${idOf.size}`;
      idOf.set(pair.sentence2, id);
      documents.set(id, pair.sentence2);
    }
  }
  const queries = pairs
    .filter((pair) => pair.score >= minScore)
    .map((pair) => ({ text: pair.sentence1, relevant: [idOf.get(pair.sentence2) as string] }));
  if (queries.length === 0) throw new PackError('bad-input', `no STS pair has a gold score of at least ${minScore}`);
  return { documents, queries };
}

/**
 * Ranks the documents for each query and reports recall@k and MRR.
 * @example const { recall, mrr } = await evaluateRetrieval(embedder, set, [1, 10])
 */
export async function evaluateRetrieval(
  embedder: SentenceEmbedder,
  set: RetrievalSet,
  ks: readonly number[] = [1, 5, 10],
  rerank?: Rerank,
): Promise<RetrievalResult> {
  const ids = [...set.documents.keys()];
  const texts = ids.map((id) => set.documents.get(id) as string);
  const first = await scorer(embedder, texts, set);
  const second = rerank === undefined ? undefined : await scorer(rerank.embedder, texts, set);
  const recallSums = ks.map(() => 0);
  let reciprocalRanks = 0;
  set.queries.forEach((query, q) => {
    let order = byScore(first(q));
    if (rerank !== undefined && second !== undefined) {
      const scores = second(q);
      // A stable sort: ties keep the first stage's order, as /v1/rank does.
      const top = order.slice(0, rerank.topK).sort((a, b) => scores[b] - scores[a]);
      order = [...top, ...order.slice(rerank.topK)];
    }
    const relevant = new Set(query.relevant);
    const ranks = order.flatMap((i, rank) => (relevant.has(ids[i]) ? [rank + 1] : []));
    ks.forEach((k, j) => {
      recallSums[j] += ranks.filter((rank) => rank <= k).length / relevant.size;
    });
    reciprocalRanks += 1 / ranks[0];
  });
  const n = set.queries.length;
  return {
    model: embedder.label,
    ...(rerank && { rerank: { model: rerank.embedder.label, topK: rerank.topK } }),
    queries: n,
    documents: ids.length,
    recall: Object.fromEntries(ks.map((k, j) => [String(k), recallSums[j] / n])),
    mrr: reciprocalRanks / n,
  };
}

/** Embeds the documents and queries once; returns each query's cosine to every document. */
async function scorer(
  embedder: SentenceEmbedder,
  documents: string[],
  set: RetrievalSet,
): Promise<(query: number) => number[]> {
  const documentVectors = await embedder.embed(documents);
  const queryVectors = await embedder.embed(set.queries.map((query) => query.text));
  return (q) => documentVectors.map((vector) => cosine(queryVectors[q], vector));
}

/** Document indices by descending score; ties keep document order. */
function byScore(scores: number[]): number[] {
  return scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
}
