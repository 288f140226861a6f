import {
  type AttributeProto,
  AttributeType,
  type IGraphProto,
  type NodeProto,
  onnx,
  type TensorProto,
} from './proto.js';

// Helpers take the protobufjs interface types (IGraphProto) so they accept both decoded and hand-built graphs.
type GraphProto = IGraphProto;

export type AttributeValue = number | number[] | string | TensorProto | { float: number } | { floats: number[] };

/**
 * Builds an attribute. Integers (and integer arrays) become INT/INTS; use `{ float: x }` / `{ floats: [...] }`
 * to force FLOAT/FLOATS for integral values, non-integral numbers become FLOAT automatically.
 */
export function makeAttribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'string') {
    return onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: new TextEncoder().encode(value) });
  }
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value })
      : onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value });
  }
  if (Array.isArray(value)) {
    return value.every(Number.isInteger)
      ? onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: value })
      : onnx.AttributeProto.create({ name, type: AttributeType.FLOATS, floats: value });
  }
  if ('float' in value) return onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value.float });
  if ('floats' in value) return onnx.AttributeProto.create({ name, type: AttributeType.FLOATS, floats: value.floats });
  return onnx.AttributeProto.create({ name, type: AttributeType.TENSOR, t: value });
}

/** Builds a node; `attributes` values follow {@link makeAttribute}. */
export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Record<string, AttributeValue> = {},
  name = outputs[0],
  domain = '',
): NodeProto {
  return onnx.NodeProto.create({
    opType,
    input: inputs,
    output: outputs,
    name,
    domain,
    attribute: Object.entries(attributes).map(([k, v]) => makeAttribute(k, v)),
  });
}

/** Reads an attribute of a node as a number / number[] / string, or undefined when absent. */
export function getAttribute(node: NodeProto, name: string): number | number[] | string | undefined {
  const attr = node.attribute.find((a) => a.name === name);
  if (!attr) return undefined;
  switch (attr.type) {
    case AttributeType.INT:
      return Number(attr.i ?? 0);
    case AttributeType.FLOAT:
      return attr.f ?? 0;
    case AttributeType.INTS:
      return (attr.ints ?? []).map(Number);
    case AttributeType.FLOATS:
      return attr.floats ?? [];
    case AttributeType.STRING:
      return new TextDecoder().decode(attr.s ?? new Uint8Array());
    default:
      return undefined;
  }
}

/** Initializers by name. */
export function initializerMap(graph: GraphProto): Map<string, TensorProto> {
  return new Map(((graph.initializer ?? []) as TensorProto[]).map((t) => [t.name, t]));
}

/** For each tensor name, the nodes that read it. */
export function consumerMap(graph: GraphProto): Map<string, NodeProto[]> {
  const map = new Map<string, NodeProto[]>();
  for (const node of (graph.node ?? []) as NodeProto[]) {
    for (const input of node.input) {
      if (!input) continue;
      const list = map.get(input) ?? [];
      list.push(node);
      map.set(input, list);
    }
  }
  return map;
}

/** For each tensor name, the node that writes it. */
export function producerMap(graph: GraphProto): Map<string, NodeProto> {
  const map = new Map<string, NodeProto>();
  for (const node of (graph.node ?? []) as NodeProto[]) for (const output of node.output) map.set(output, node);
  return map;
}

/** The opset version the model imports for the default ONNX domain. */
export function defaultOpset(model: { opsetImport: { domain?: string | null; version?: unknown }[] }): number {
  const entry = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? Number(entry.version) : 0;
}

/** Removes initializers no node reads any more (after a pass replaced them). */
export function dropUnusedInitializers(graph: GraphProto): void {
  const used = new Set<string>();
  for (const node of (graph.node ?? []) as NodeProto[]) for (const input of node.input) used.add(input);
  for (const out of graph.output ?? []) used.add(out.name ?? '');
  graph.initializer = ((graph.initializer ?? []) as TensorProto[]).filter((t) => used.has(t.name));
}
