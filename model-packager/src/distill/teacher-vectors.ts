/**
 * Step 1 of distillation: each vocabulary piece, alone, through the teacher bundle (framed by its special tokens as any
 * text is, pooled and normalised by its graph), with bundle-runtime's tokenizer, batch planner and ORT engine, as the
 * worker runs it. Output embeddings beat the input embedding table (Model2Vec).
 */
import { Embedder } from '../../../bundle-runtime/embedder.js';
import { createOrtEngine } from '../../../bundle-runtime/ort-engine.js';
import { BundleTokenizer } from '../../../bundle-runtime/tokenizer.js';
import type { Reporter } from '../report/reporter.js';
import { nodeOrt } from '../runtime/ort-node.js';
import type { TeacherBundle } from './teacher-bundle.js';

/** Pieces are 3-4 framed tokens, so batches can hold more sequences than the worker's default. */
const PIECE_BATCH_LIMITS = { maxBatchSize: 64, maxBatchTokens: 512 };

/**
 * The teacher's vector for each id in `ids`, in order.
 * @example const vectors = await teacherPieceVectors(teacher, [5, 6, 7], reporter)
 */
export async function teacherPieceVectors(
  teacher: TeacherBundle,
  ids: readonly number[],
  reporter: Reporter,
): Promise<Float32Array[]> {
  const tokenizer = new BundleTokenizer(teacher.tokenizerJson, teacher.manifest.tokenizerConfig);
  const embedder = new Embedder(await createOrtEngine(nodeOrt, teacher.model, teacher.manifest), PIECE_BATCH_LIMITS);
  const progress = reporter.progress('pieces through the teacher', ids.length);
  try {
    const sequences = ids.map((id) => tokenizer.frame([id], teacher.manifest.maxTokens, 'right').ids);
    return await embedder.embedAll(sequences, { onBatch: (done) => progress.tick(done) });
  } finally {
    progress.stop();
    await embedder.release();
  }
}
