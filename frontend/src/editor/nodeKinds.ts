// The node types of the canvas and their defaults (the organism's vocabulary, see DESIGN.md §3).
import type { Edge, Node } from '@xyflow/react';

export type NodeKind =
  | 'trigger'
  | 'llm'
  | 'http'
  | 'code'
  | 'branch'
  | 'transform'
  | 'loop'
  | 'output'
  | 'memory'
  | 'wait';

export type NodeData = Record<string, unknown> & { name: string };
export type FlowNode = Node<NodeData, NodeKind>;
export type FlowEdge = Edge;

export const ERROR_HANDLE = 'error';

export interface KindInfo {
  kind: NodeKind;
  label: string;
  icon: string;
  description: string;
  /** Handler the control plane implies for this type (code names its own). */
  handler: string | null;
  /** Whether the node accepts incoming edges. */
  hasInput: boolean;
  /** Whether the node sends to peers. */
  hasOutput: boolean;
  /** Whether the node can route its errors (on_error). */
  hasErrorOutput: boolean;
}

export const KINDS: Record<NodeKind, KindInfo> = {
  trigger: {
    kind: 'trigger',
    label: 'Trigger',
    icon: '⚡',
    description: 'Starts the flow: webhook, manual Run or schedule',
    handler: null,
    hasInput: false,
    hasOutput: true,
    hasErrorOutput: false,
  },
  llm: {
    kind: 'llm',
    label: 'LLM',
    icon: '✦',
    description: 'Ask a language model',
    handler: 'builtin.llm',
    hasInput: true,
    hasOutput: true,
    hasErrorOutput: true,
  },
  http: {
    kind: 'http',
    label: 'HTTP',
    icon: '⇄',
    description: 'Call an HTTP API',
    handler: 'builtin.http',
    hasInput: true,
    hasOutput: true,
    hasErrorOutput: true,
  },
  code: {
    kind: 'code',
    label: 'Code',
    icon: '{}',
    description: 'Run a WebAssembly module or marketplace tool',
    handler: null,
    hasInput: true,
    hasOutput: true,
    hasErrorOutput: true,
  },
  branch: {
    kind: 'branch',
    label: 'Branch',
    icon: '◇',
    description: 'Send the payload to one peer by condition',
    handler: 'builtin.branch',
    hasInput: true,
    hasOutput: true,
    hasErrorOutput: true,
  },
  transform: {
    kind: 'transform',
    label: 'Transform',
    icon: 'ƒ',
    description: 'Reshape the payload with JMESPath',
    handler: 'builtin.transform',
    hasInput: true,
    hasOutput: true,
    hasErrorOutput: true,
  },
  loop: {
    kind: 'loop',
    label: 'Loop',
    icon: '↻',
    description: 'A transform that may send to itself, bounded',
    handler: 'builtin.transform',
    hasInput: true,
    hasOutput: true,
    hasErrorOutput: true,
  },
  output: {
    kind: 'output',
    label: 'Output',
    icon: '◉',
    description: 'Record a result of the execution',
    handler: 'builtin.output',
    hasInput: true,
    hasOutput: false,
    hasErrorOutput: false,
  },
  memory: {
    kind: 'memory',
    label: 'Memory',
    icon: '▤',
    description: 'Read or write project memory',
    handler: 'builtin.memory',
    hasInput: true,
    hasOutput: true,
    hasErrorOutput: true,
  },
  wait: {
    kind: 'wait',
    label: 'Wait',
    icon: '‖',
    description: 'Pause for a timer, an event or an approval',
    handler: 'builtin.wait',
    hasInput: true,
    hasOutput: true,
    hasErrorOutput: true,
  },
};

/** The Built-in palette, in display order. */
export const PALETTE: NodeKind[] = [
  'trigger',
  'llm',
  'http',
  'code',
  'branch',
  'transform',
  'loop',
  'output',
  'memory',
  'wait',
];

export function isNodeKind(value: unknown): value is NodeKind {
  return typeof value === 'string' && value in KINDS;
}

export function defaultData(kind: NodeKind, name: string): NodeData {
  switch (kind) {
    case 'trigger':
      return { name, kind: 'manual' };
    case 'llm':
      return {
        name,
        config: { provider: 'openai', model: 'gpt-4o-mini', prompt: '{{ payload }}', output: 'text' },
      };
    case 'http':
      return { name, config: { method: 'GET', url: 'https://example.com' } };
    case 'code':
      return { name, handler: '', config: {} };
    case 'branch':
      return { name, config: { cases: [] } };
    case 'transform':
      return { name, config: { expression: 'payload' } };
    case 'loop':
      return { name, max_iterations: 5, config: { expression: 'payload' } };
    case 'output':
      return { name };
    case 'memory':
      return { name, config: { op: 'get', key: 'last' } };
    case 'wait':
      return { name, config: { kind: 'approval', message: 'Continue?' } };
  }
}

export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
export const FLOW_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;
