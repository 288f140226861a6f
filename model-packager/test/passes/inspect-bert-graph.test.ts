import { describe, expect, it } from 'vitest';
import { PackError } from '../../src/errors.js';
import { type BertFixtureOptions, buildBertModel, FIXTURE_PRESETS } from '../../src/fixtures/bert-fixture.js';
import { makeNode } from '../../src/onnx/graph.js';
import {
  DataType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  onnx,
  type ValueInfoProto,
} from '../../src/onnx/proto.js';
import { ALLOWED_OPS, inspectBertGraph } from '../../src/passes/inspect-bert-graph.js';

const VOCAB = 30522;
const WORD_GATHER = '/embeddings/word_embeddings/Gather';

function fixture(overrides: Partial<BertFixtureOptions> = {}): {
  model: ModelProto;
  graph: GraphProto;
  nodes: NodeProto[];
} {
  const model = buildBertModel({ ...FIXTURE_PRESETS.tiny, ...overrides }, VOCAB);
  const graph = model.graph as GraphProto;
  return { model, graph, nodes: graph.node as NodeProto[] };
}

/** The one-line message inspectBertGraph refuses the model with. */
function refusal(model: ModelProto): string {
  try {
    inspectBertGraph(model);
  } catch (err) {
    expect(err).toBeInstanceOf(PackError);
    expect((err as PackError).kind).toBe('unsupported-graph');
    expect((err as PackError).message).not.toContain('\n');
    return (err as PackError).message;
  }
  throw new Error('expected the model to be refused');
}

const inputsOf = (graph: GraphProto) => graph.input as ValueInfoProto[];
const setInputType = (graph: GraphProto, elemType: number) => {
  for (const input of inputsOf(graph)) input.type!.tensorType!.elemType = elemType;
};

describe('inspectBertGraph accepts', () => {
  const variants = [17, 14].flatMap((opset) =>
    [true, false].map((tokenTypeIds) => ({ opset: opset as 14 | 17, tokenTypeIds })),
  );

  it.each(variants)('the opset $opset fixture with token_type_ids $tokenTypeIds', (variant) => {
    const info = inspectBertGraph(fixture(variant).model);
    expect(info).toEqual({
      opset: variant.opset,
      layerNorm: variant.opset === 17 ? 'fused' : 'decomposed',
      inputs: variant.tokenTypeIds
        ? ['input_ids', 'attention_mask', 'token_type_ids']
        : ['input_ids', 'attention_mask'],
      inputDtype: 'int64',
      hiddenOutput: 'last_hidden_state',
      classifier: null,
      hidden: 32,
      layers: 2,
      wordEmbedding: { initializer: 'embeddings.word_embeddings.weight', gatherNode: WORD_GATHER, vocabSize: VOCAB },
    });
  });

  it('a sequence classifier (cross-encoder): output logits with its label count', () => {
    const info = inspectBertGraph(buildBertModel({ ...FIXTURE_PRESETS.tiny, head: { labels: 2 } }, VOCAB));
    expect([info.hiddenOutput, info.classifier, info.hidden]).toEqual(['logits', { labels: 2 }, 32]);
  });

  it('the MiniLM-sized graph: 6 layers, hidden 384', () => {
    const info = inspectBertGraph(buildBertModel(FIXTURE_PRESETS.minilm, VOCAB));
    expect([info.layers, info.hidden, info.wordEmbedding.vocabSize]).toEqual([6, 384, VOCAB]);
  });

  it('int32 inputs with the ids reaching the table through a Cast, inputs in any order', () => {
    const { model, graph, nodes } = fixture();
    setInputType(graph, DataType.INT32);
    graph.input = [...inputsOf(graph)].reverse();
    nodes.find((n) => n.name === WORD_GATHER)!.input[1] = 'input_ids_int64';
    nodes.unshift(makeNode('Cast', ['input_ids'], ['input_ids_int64'], { to: DataType.INT64 }, '/embeddings/Cast'));
    const info = inspectBertGraph(model);
    expect(info.inputDtype).toBe('int32');
    expect(info.inputs).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    expect(info.wordEmbedding.gatherNode).toBe(WORD_GATHER);
  });

  it('old-IR graphs that list initializers as inputs, and names an unnamed embedding Gather', () => {
    const { model, graph, nodes } = fixture();
    graph.input.push(
      onnx.ValueInfoProto.create({
        name: 'embeddings.word_embeddings.weight',
        type: { tensorType: { elemType: DataType.FLOAT } },
      }),
    );
    const gather = nodes.find((n) => n.name === WORD_GATHER)!;
    gather.name = '';
    const info = inspectBertGraph(model);
    expect(info.inputs).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    expect(info.wordEmbedding.gatherNode).toBe(gather.output[0]);
    expect(gather.name).toBe(gather.output[0]);
  });
});

describe('inspectBertGraph refuses', () => {
  it('a graph without input_ids', () => {
    const { model, graph } = fixture();
    graph.input = inputsOf(graph).filter((i) => i.name !== 'input_ids');
    expect(refusal(model)).toBe(
      'the graph has no input_ids input (inputs: attention_mask, token_type_ids); expected input_ids, attention_mask and optionally token_type_ids',
    );
  });

  it('a graph without attention_mask', () => {
    const { model, graph } = fixture();
    graph.input = inputsOf(graph).filter((i) => i.name !== 'attention_mask');
    expect(refusal(model)).toMatch(
      /^the graph has no attention_mask input \(inputs: input_ids, token_type_ids\); expected/,
    );
  });

  it('an unknown extra input', () => {
    const { model, graph } = fixture();
    graph.input.push(
      onnx.ValueInfoProto.create({ name: 'position_ids', type: { tensorType: { elemType: DataType.INT64 } } }),
    );
    expect(refusal(model)).toMatch(
      /^unknown graph input position_ids \(inputs: input_ids, attention_mask, token_type_ids, position_ids\); expected input_ids, attention_mask and optionally token_type_ids$/,
    );
  });

  it('float inputs and mixed integer inputs', () => {
    const float = fixture();
    setInputType(float.graph, DataType.FLOAT);
    expect(refusal(float.model)).toMatch(/^graph inputs must be int64 or int32 tensors \(input_ids is FLOAT, /);
    const mixed = fixture();
    inputsOf(mixed.graph)[1].type!.tensorType!.elemType = DataType.INT32;
    expect(refusal(mixed.model)).toBe(
      'graph inputs mix integer types (input_ids INT64, attention_mask INT32, token_type_ids INT64); expected one type for all',
    );
  });

  it('no last_hidden_state output (a sentence-transformers export)', () => {
    const { model, graph, nodes } = fixture();
    (graph.output as ValueInfoProto[])[0].name = 'token_embeddings';
    nodes.at(-1)!.output[0] = 'token_embeddings';
    graph.output.push(onnx.ValueInfoProto.create({ name: 'sentence_embedding' }));
    expect(refusal(model)).toMatch(
      /^the graph has no last_hidden_state or logits output \(outputs: token_embeddings, sentence_embedding\); expected a feature-extraction export/,
    );
  });

  it('an ambiguous or dangling last_hidden_state output', () => {
    const twice = fixture();
    twice.graph.output.push(onnx.ValueInfoProto.create({ name: 'last_hidden_state' }));
    expect(refusal(twice.model)).toBe('the graph declares last_hidden_state 2 times; expected one such output');
    const dangling = fixture();
    dangling.nodes.at(-1)!.output[0] = 'something_else';
    expect(refusal(dangling.model)).toMatch(/^no node computes the last_hidden_state output/);
  });

  it('a graph where no Gather reads input_ids', () => {
    const { model, nodes } = fixture();
    nodes.find((n) => n.name === WORD_GATHER)!.input[1] = 'token_type_ids';
    expect(refusal(model)).toBe(
      'no word-embedding table found (no Gather reads input_ids); expected a Gather reading a 2-D float32 initializer [vocab, hidden] at the ids in input_ids',
    );
  });

  it('a Gather of input_ids whose table is not a float initializer', () => {
    const { model, graph } = fixture();
    const table = graph.initializer.find((t) => t.name === 'embeddings.word_embeddings.weight')!;
    table.dataType = DataType.INT8;
    expect(refusal(model)).toMatch(
      /^no word-embedding table found \(Gather of input_ids reads embeddings\.word_embeddings\.weight \(INT8 \[30522, 32\]\)\); expected/,
    );
  });

  it('two tables indexed by input_ids', () => {
    const { model, nodes } = fixture();
    nodes.find((n) => n.name === '/embeddings/token_type_embeddings/Gather')!.input[1] = 'input_ids';
    expect(refusal(model)).toMatch(
      /^several tables are indexed by input_ids \(embeddings\.word_embeddings\.weight, embeddings\.token_type_embeddings\.weight\)/,
    );
  });

  it.each(['DequantizeLinear', 'MatMulInteger', 'QLinearMatMul', 'DynamicQuantizeLinear'])(
    'an already-quantized graph (%s)',
    (op) => {
      const { model, nodes } = fixture();
      nodes.push(makeNode(op, ['a', 'b', 'c'], ['q_out'], {}, `/q/${op}`));
      expect(refusal(model)).toBe(`the graph is already quantized (found ${op}); expected an fp32 export`);
    },
  );

  it.each(['Loop', 'If', 'NonMaxSuppression', 'TopK'])(
    'an op outside the allow-list (%s), listing the allowed set',
    (op) => {
      const { model, nodes } = fixture();
      nodes.push(makeNode(op, ['x'], ['y'], {}, `/extra/${op}`));
      const message = refusal(model);
      expect(message).toMatch(
        new RegExp(`^the graph uses ops outside what the packager supports \\(found ${op}\\); expected only Shape, `),
      );
      for (const allowed of ['LayerNormalization', 'Erf', 'Softmax', 'ConstantOfShape', 'Where', 'Range', 'Tanh'])
        expect(message).toContain(allowed);
    },
  );

  it('custom-domain ops (ORT fusions)', () => {
    const { model, nodes } = fixture();
    nodes.push(makeNode('SkipLayerNormalization', ['x'], ['y'], {}, '/fused/SkipLayerNorm', 'com.microsoft'));
    expect(refusal(model)).toBe(
      'the graph uses custom-domain ops com.microsoft.SkipLayerNormalization; expected only standard ONNX ops (export without ORT-specific fusions)',
    );
  });

  it('an opset older than 11', () => {
    const { model } = fixture({ opset: 14 });
    model.opsetImport = [onnx.OperatorSetIdProto.create({ domain: '', version: 10 })];
    expect(refusal(model)).toBe(
      'the model imports ONNX opset 10; expected opset 11 or newer (re-export with a newer opset)',
    );
  });
});

describe('inspectBertGraph with factorised embeddings', () => {
  it('takes hidden from last_hidden_state when it differs from the embedding table width (ALBERT, USE)', () => {
    const { model, graph } = fixture();
    (graph.output as ValueInfoProto[])[0].type!.tensorType!.shape!.dim![2].dimValue = 64;
    const info = inspectBertGraph(model);
    expect(info.hidden).toBe(64);
    expect(info.wordEmbedding.initializer).toBe('embeddings.word_embeddings.weight');
  });
});

describe('ALLOWED_OPS', () => {
  it('covers every op the fixture graphs use and none of the control-flow or quantized ops', () => {
    const used = new Set([14, 17].flatMap((opset) => fixture({ opset: opset as 14 | 17 }).nodes.map((n) => n.opType)));
    for (const op of used) expect(ALLOWED_OPS.has(op), op).toBe(true);
    for (const op of ['Loop', 'If', 'Scan', 'MatMulInteger', 'DequantizeLinear', 'QLinearMatMul'])
      expect(ALLOWED_OPS.has(op), op).toBe(false);
  });
});
