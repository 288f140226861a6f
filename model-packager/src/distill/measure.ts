/**
 * How closely a static table follows its teacher: both embed the built-in held-out sentences, and the Spearman
 * correlation of their cosines over every pair of sentences is the figure. PCA changes the space, so the vectors
 * themselves cannot be compared; the similarities they give can.
 */
import type { StaticTable } from '../../../bundle-format/static-table.js';
import { cosine } from '../../../bundle-runtime/similarity.js';
import { spearman } from '../eval/correlation.js';
import { graphEmbedder, type SentenceEmbedder, staticEmbedder } from '../eval/embedders.js';
import { SAMPLE_SENTENCES } from '../measure/sample-sentences.js';
import type { TeacherBundle } from './teacher-bundle.js';

/** Cosines of every pair (i < j) of vectors, in a fixed order. */
export function pairwiseCosines(vectors: readonly Float32Array[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < vectors.length; i++) {
    for (let j = i + 1; j < vectors.length; j++) out.push(cosine(vectors[i], vectors[j]));
  }
  return out;
}

/** The teacher bundle as a SentenceEmbedder. */
export function teacherEmbedder(teacher: TeacherBundle): Promise<SentenceEmbedder> {
  return graphEmbedder({
    label: `teacher ${teacher.dir}`,
    modelBytes: teacher.model,
    tokenizerJson: teacher.tokenizerJson,
    tokenizerConfig: teacher.manifest.tokenizerConfig,
    maxTokens: teacher.manifest.maxTokens,
    graph: teacher.manifest,
  });
}

/** @example (await measureAgreement(teacher, table, tokenizerJson)).pairwiseSpearman // 0.8 */
export async function measureAgreement(
  teacher: TeacherBundle,
  table: StaticTable,
  tokenizerJson: object,
  sentences: readonly string[] = SAMPLE_SENTENCES,
): Promise<{ sentences: number; pairwiseSpearman: number }> {
  const texts = [...sentences];
  const teacherModel = await teacherEmbedder(teacher);
  let teacherVectors: Float32Array[];
  try {
    teacherVectors = await teacherModel.embed(texts);
  } finally {
    await teacherModel.close();
  }
  const student = staticEmbedder({
    label: 'static',
    table,
    tokenizerJson,
    tokenizerConfig: teacher.manifest.tokenizerConfig,
    maxTokens: teacher.manifest.maxTokens,
  });
  const studentVectors = await student.embed(texts);
  return {
    sentences: texts.length,
    pairwiseSpearman: spearman(pairwiseCosines(studentVectors), pairwiseCosines(teacherVectors)),
  };
}
