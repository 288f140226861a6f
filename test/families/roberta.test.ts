/**
 * The RoBERTa family end to end: `edge-embed fixture --preset roberta` (byte-level BPE, no token_type_ids, position ids
 * computed in the graph from 2), packed with a pruned vocabulary and int8 weights, stays within cosine 0.99 of the fp32
 * graph on in-corpus text and is served by the worker app in Node with the same vectors and real /tokenize offsets.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine } from '../../bundle-runtime/similarity.js';
import { bundleEmbedder, modelDirEmbedder } from '../../model-packager/src/eval/embedders.js';
import { DataType, type GraphProto, type NodeProto, onnx } from '../../model-packager/src/onnx/proto.js';
import { readOnnxModel } from '../../model-packager/src/onnx/read-model.js';
import { encodeOnnxModel } from '../../model-packager/src/onnx/write-model.js';
import { packModel } from '../../model-packager/src/pack.js';
import { createWasmSession, ort } from '../../model-packager/src/runtime/ort-node.js';
import { fixtureCli, workerOn } from './support.js';

const CORPUS = [
  'The quick brown fox jumps over the lazy dog.',
  'A river runs quietly past the old stone market.',
  'Lanterns glow in the harbor while ships come home.',
  'Résumé tips for café owners in São Paulo.',
  'Emoji like 👍🏽 and 🎉 show up in chat messages!!!',
  '東京 and 北京 are large cities; 日本語 text appears too.',
  'Supercalifragilisticexpialidocious is a very long word.',
  '...!!! ??? --- ;;; (((quoted))) "punctuation" only',
];

let work: string;
const fixture = () => join(work, 'roberta');
const bundle = () => join(work, 'bundle');

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'family-roberta-'));
  await fixtureCli([fixture(), '--preset', 'roberta']);
  const corpus = join(work, 'corpus.txt');
  await writeFile(corpus, `${CORPUS.join('\n')}\n`);
  await packModel({ modelDir: fixture(), outDir: bundle(), corpus: [corpus], maxVocab: 1000 });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('RoBERTa fixture (edge-embed fixture --preset roberta)', () => {
  it('has no token_type_ids and computes position ids from 2 inside the graph', async () => {
    const model = await readOnnxModel(join(fixture(), 'model.onnx'));
    const graph = model.graph as GraphProto;
    expect(graph.input.map((input) => input.name)).toEqual(['input_ids', 'attention_mask']);
    const positionGather = (graph.node as NodeProto[]).find(
      (node) => node.opType === 'Gather' && node.input[0] === 'embeddings.position_embeddings.weight',
    );
    expect(positionGather).toBeDefined();
    // Expose the position ids the graph computes and run it: [<s>, a, b, </s>] -> 2, 3, 4, 5.
    graph.output.push(
      onnx.ValueInfoProto.create({
        name: positionGather!.input[1],
        type: { tensorType: { elemType: DataType.INT64 } },
      }),
    );
    const session = await createWasmSession(encodeOnnxModel(model));
    const ids = [0, 1000, 2000, 2];
    const int64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
    const out = await session.run({ input_ids: int64(ids), attention_mask: int64([1, 1, 1, 1]) });
    expect(Array.from(out[positionGather!.input[1]].data as BigInt64Array, Number)).toEqual([2, 3, 4, 5]);
    await session.release();
  });

  it('frames text as <s> ... </s> with GPT-2 byte-level pieces', async () => {
    const tokenizerJson = JSON.parse(await readFile(join(fixture(), 'tokenizer.json'), 'utf8'));
    expect(tokenizerJson.model.type).toBe('BPE');
    expect(tokenizerJson.model.merges.length).toBe(50000);
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const encoding = new Tokenizer(tokenizerJson, {}).encode('Hello world');
    expect(encoding.tokens).toEqual(['<s>', 'Hello', 'Ġworld', '</s>']);
  });
});

describe('RoBERTa fixture packed', () => {
  it('keeps cosine >= 0.99 to the fp32 graph on in-corpus text, and different texts stay different', async () => {
    const reference = await modelDirEmbedder(fixture());
    const packed = await bundleEmbedder(bundle());
    const a = await reference.embed(CORPUS);
    const b = await packed.embed(CORPUS);
    await reference.close();
    await packed.close();
    const cosines = a.map((vector, i) => cosine(vector, b[i]));
    expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.99);
    expect(cosine(a[0], a[1])).toBeLessThan(0.95);
    const manifest = JSON.parse(await readFile(join(bundle(), 'manifest.json'), 'utf8'));
    expect(manifest.inputs).toEqual(['input_ids', 'attention_mask']);
  });

  it('is served by the worker app with the packager vectors and /tokenize offsets', async () => {
    const packed = await bundleEmbedder(bundle());
    const fromPackager = await packed.embed(CORPUS);
    await packed.close();
    const { post } = workerOn(bundle());
    const response = await post('/embed', { inputs: CORPUS });
    expect(response.status).toBe(200);
    const fromWorker = (await response.json()) as number[][];
    fromWorker.forEach((vector, i) => {
      expect(cosine(vector, fromPackager[i]), CORPUS[i]).toBeGreaterThan(0.9999);
    });

    const text = CORPUS[4];
    const tokens = (await (await post('/tokenize', { inputs: text })).json()) as Array<
      Array<{ text: string; start: number | null; stop: number | null; special: boolean }>
    >;
    const content = tokens[0].filter((token) => token.start !== null);
    expect(tokens[0].length - content.length).toBe(2);
    const covered = content.map((token) => text.slice(token.start ?? 0, token.stop ?? 0)).join('');
    // Byte-level pieces of one emoji share its span, so only the distinct spans are joined.
    const spans = [...new Map(content.map((token) => [`${token.start}:${token.stop}`, token])).values()];
    expect(
      spans
        .map((token) => text.slice(token.start ?? 0, token.stop ?? 0))
        .join('')
        .replace(/\s/g, ''),
    ).toBe(text.replace(/\s/g, ''));
    expect(covered.length).toBeGreaterThanOrEqual(text.replace(/\s/g, '').length);
    const decoded = (await (
      await post('/decode', { ids: tokens[0].map((token) => (token as { id?: number }).id) })
    ).json()) as string[];
    expect(decoded).toEqual([text]);
  });
});
