// Dead-node elimination: keeps only the nodes and constants the graph outputs need.
import type { Graph, Node } from './ir';

export function prune(g: Graph): Graph {
  const needed = new Set(g.outputs.map((o) => o.name));
  const kept: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => needed.has(o))) continue;
    kept.push(n);
    for (const x of n.inputs) if (x !== '') needed.add(x);
  }
  kept.reverse();
  const inputs = new Set(g.inputs.map((v) => v.name));
  const initializers = new Map([...g.initializers].filter(([k]) => needed.has(k) || inputs.has(k)));
  const values = new Map([...g.values].filter(([k]) => needed.has(k) || inputs.has(k)));
  return { ...g, nodes: kept, initializers, values };
}
