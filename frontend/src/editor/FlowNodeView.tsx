import { memo } from 'react';
import { BaseEdge, Handle, Position, type EdgeProps, type NodeProps } from '@xyflow/react';
import { ERROR_HANDLE, KINDS, type FlowNode, type NodeKind } from './nodeKinds';
import { useNodeProblems } from './problems';
import { useNodeRun } from './runData';

function text(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
}

/** One line telling what the node does, shown under its name. */
export function nodeSummary(type: NodeKind, data: Record<string, unknown>): string {
  const config = (data.config && typeof data.config === 'object' ? data.config : {}) as Record<string, unknown>;
  switch (type) {
    case 'trigger':
      return data.kind === 'schedule' ? `schedule ${text(data.cron)}`.trim() : text(data.kind);
    case 'llm':
      return [text(config.provider) || 'openai', text(config.model)].filter(Boolean).join(' · ');
    case 'http':
      return `${text(config.method) || 'GET'} ${text(config.url)}`;
    case 'code':
      return text(data.handler) || 'choose a module';
    case 'branch': {
      const cases = Array.isArray(config.cases) ? config.cases.length : 0;
      return `${cases} case${cases === 1 ? '' : 's'}${config.default ? ` · else ${text(config.default)}` : ''}`;
    }
    case 'transform':
      return config.set !== undefined ? `set ${Object.keys(config.set as object).join(', ')}` : text(config.expression);
    case 'loop':
      return `≤ ${text(data.max_iterations) || '?'}× · ${config.set !== undefined ? 'set' : text(config.expression)}`;
    case 'output':
      return text(config.expression) || 'whole payload';
    case 'memory':
      return `${text(config.op)} ${text(config.key)}`;
    case 'wait':
      return config.kind === 'timer'
        ? `timer ${text(config.seconds ?? config.until)}`
        : config.kind === 'event'
          ? `event ${text(config.topic)}`
          : 'approval';
    default:
      return '';
  }
}

function FlowNodeViewImpl({ id, type, data, selected }: NodeProps<FlowNode>) {
  const kind = (type in KINDS ? type : 'code') as NodeKind;
  const info = KINDS[kind];
  const problems = useNodeProblems(id);
  const name = data.name;
  const run = useNodeRun(name);
  const classes = ['fp-node', `fp-node-${kind}`];
  if (selected) classes.push('selected');
  if (run?.status === 'failed') classes.push('run-failed');
  else if (run?.status === 'succeeded') classes.push('run-succeeded');
  if (problems.server.length) classes.push('has-problems');
  else if (problems.local.length) classes.push('has-warnings');
  return (
    <div
      className={classes.join(' ')}
      data-testid={`node-${name}`}
      data-node-id={id}
      data-run={run?.status ?? ''}
      aria-label={`${info.label} node ${name}${run ? `, last run ${run.status}` : ''}`}
    >
      {info.hasInput ? (
        <Handle
          type="target"
          position={Position.Left}
          className="fp-handle fp-handle-in"
          data-testid={`handle-${name}-in`}
          aria-label={`Input of ${name}`}
        />
      ) : null}
      <div className="fp-node-header">
        <span className={`kind-icon kind-${kind}`} aria-hidden="true">
          {info.icon}
        </span>
        <span className="fp-node-kind">{info.label}</span>
      </div>
      <div className="fp-node-name" data-testid={`node-name-${name}`}>
        {name}
      </div>
      <div className="fp-node-summary">{nodeSummary(kind, data)}</div>
      {run ? (
        <span
          className={`fp-node-run fp-node-run-${run.status}`}
          data-testid={`node-run-${name}`}
          title={run.status === 'failed' ? `Failed in the last run: ${String(run.error ?? run.reason ?? '')}` : `Last run: ${run.status}`}
        >
          {run.status === 'failed' ? '✕ failed' : run.status === 'succeeded' ? '✓' : run.status}
        </span>
      ) : null}
      {problems.server.length ? (
        <span
          className="fp-node-badge"
          data-testid={`node-badge-${name}`}
          title={problems.server.join('\n')}
          role="img"
          aria-label={`${problems.server.length} problem${problems.server.length === 1 ? '' : 's'}: ${problems.server.join('; ')}`}
        >
          {problems.server.length}
        </span>
      ) : problems.local.length ? (
        <span
          className="fp-node-badge fp-node-badge-warning"
          data-testid={`node-warning-${name}`}
          title={problems.local.join('\n')}
          role="img"
          aria-label={`Needs attention: ${problems.local.join('; ')}`}
        >
          !
        </span>
      ) : null}
      {info.hasOutput ? (
        <Handle
          type="source"
          position={Position.Right}
          className="fp-handle fp-handle-out"
          data-testid={`handle-${name}-out`}
          aria-label={`Output of ${name}`}
        />
      ) : null}
      {info.hasErrorOutput ? (
        <Handle
          type="source"
          id={ERROR_HANDLE}
          position={Position.Bottom}
          className="fp-handle fp-handle-error"
          data-testid={`handle-${name}-error`}
          aria-label={`Errors of ${name}`}
          title="On error: drag to the listener that handles errors"
        />
      ) : null}
    </div>
  );
}

export const FlowNodeView = memo(FlowNodeViewImpl);

/** A self-edge (loop): a curve over the top of the node from its output back to its input. */
export function SelfLoopEdge({ id, sourceX, sourceY, targetX, targetY, markerEnd, style, label }: EdgeProps) {
  const lift = 110;
  const path = `M ${sourceX} ${sourceY} C ${sourceX + 70} ${sourceY - lift}, ${targetX - 70} ${targetY - lift}, ${targetX} ${targetY}`;
  const labelX = (sourceX + targetX) / 2;
  const labelY = Math.min(sourceY, targetY) - lift * 0.75;
  return (
    <BaseEdge
      id={id}
      path={path}
      markerEnd={markerEnd}
      style={style}
      label={label}
      labelX={labelX}
      labelY={labelY}
    />
  );
}

export const nodeTypes = {
  trigger: FlowNodeView,
  llm: FlowNodeView,
  http: FlowNodeView,
  code: FlowNodeView,
  branch: FlowNodeView,
  transform: FlowNodeView,
  loop: FlowNodeView,
  output: FlowNodeView,
  memory: FlowNodeView,
  wait: FlowNodeView,
};

export const edgeTypes = { selfLoop: SelfLoopEdge };
