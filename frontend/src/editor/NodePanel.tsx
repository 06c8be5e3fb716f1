// The side panel: edits the selected node's settings, with inline validation.
import { useMemo, useState, type Dispatch } from 'react';
import type { Problem } from '../api/types';
import { JsonField, NumberField, SelectField, TextField } from './fields';
import { ListenerFields, type Config } from './handlerFields';
import { ERROR_HANDLE, KINDS, type FlowEdge, type FlowNode, type NodeData } from './nodeKinds';
import { connectionProblem, peerNames, type EditorAction } from './store';
import { validateNode, type FieldErrors } from './validation';
import { useNodeRun } from './runData';
import { JsonBlock } from '../components/JsonBlock';

interface NodePanelProps {
  node: FlowNode;
  nodes: FlowNode[];
  edges: FlowEdge[];
  dispatch: Dispatch<EditorAction>;
  serverProblems: Problem[];
}

function configOf(node: FlowNode): Config {
  const value = node.data.config;
  return value && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Config) } : {};
}

export function NodePanel({ node, nodes, edges, dispatch, serverProblems }: NodePanelProps) {
  const info = KINDS[node.type as keyof typeof KINDS] ?? KINDS.code;
  const errors: FieldErrors = useMemo(() => validateNode(node, nodes, edges), [node, nodes, edges]);
  const config = configOf(node);
  const data = node.data;

  const set = (field: string, value: unknown) =>
    dispatch({
      type: 'updateNodeData',
      id: node.id,
      patch: { [field]: value === '' ? undefined : value } as Partial<NodeData>,
      coalesceKey: `${node.id}:${field}`,
    });

  const setConfig = (key: string, value: unknown) => {
    const next = { ...config };
    if (value === undefined || value === '') delete next[key];
    else next[key] = value;
    dispatch({
      type: 'updateNodeData',
      id: node.id,
      patch: { config: next },
      coalesceKey: `${node.id}:config.${key}`,
    });
  };

  const replaceConfig = (next: Config) =>
    dispatch({ type: 'updateNodeData', id: node.id, patch: { config: next } });

  const run = useNodeRun(node.data.name);
  const peers = peerNames(node.id, nodes, edges);
  const errorPeer = edges
    .filter((edge) => edge.source === node.id && edge.sourceHandle === ERROR_HANDLE)
    .map((edge) => nodes.find((n) => n.id === edge.target)?.data.name)
    .filter(Boolean);

  return (
    <form
      className="node-panel"
      aria-label={`${info.label} settings`}
      data-testid="node-panel"
      onSubmit={(event) => event.preventDefault()}
    >
      <header className="panel-header">
        <span className={`kind-icon kind-${node.type}`} aria-hidden="true">
          {info.icon}
        </span>
        <div>
          <h2>{info.label}</h2>
          <p className="muted small">{info.description}</p>
        </div>
        <button
          type="button"
          className="button button-small button-danger"
          aria-label="Delete node"
          data-testid="panel-delete-node"
          onClick={() => dispatch({ type: 'remove', nodeIds: [node.id] })}
        >
          Delete
        </button>
      </header>

      {serverProblems.length ? (
        <ul className="problem-list" aria-label="Problems reported by the server" data-testid="panel-problems">
          {serverProblems.map((problem, index) => (
            <li key={index}>
              {problem.message}
              {problem.path ? <span className="muted"> ({problem.path})</span> : null}
            </li>
          ))}
        </ul>
      ) : null}

      {run ? (
        <section className={`node-last-run node-last-run-${run.status}`} aria-label="Last run" data-testid="node-last-run">
          <h3>
            Last run: step {run.step}, {run.status}
          </h3>
          {run.status === 'failed' ? (
            <p className="form-error" data-testid="node-last-error">
              {String(run.error ?? run.reason ?? 'failed')}
            </p>
          ) : null}
          <JsonBlock label="Input" value={run.input} testId="node-last-input" />
          {run.status !== 'failed' ? <JsonBlock label="Output" value={run.output} testId="node-last-output" /> : null}
        </section>
      ) : node.type !== 'trigger' ? (
        <p className="muted small" data-testid="node-no-run">
          Run the flow to see this node&apos;s input and output here.
        </p>
      ) : null}

      <TextField
        label="Name"
        value={data.name}
        onChange={(value) => set('name', value)}
        error={errors.name}
        testId="panel-name"
        monospace
      />

      {node.type === 'trigger' ? (
        <TriggerFields data={data} errors={errors} set={set} />
      ) : (
        <>
          <TextField
            label="Description"
            value={data.description}
            onChange={(value) => set('description', value)}
            testId="panel-description"
          />
          <ListenerFields
            node={node}
            config={config}
            errors={errors}
            peers={peers}
            set={set}
            setConfig={setConfig}
            replaceConfig={replaceConfig}
          />
          <NumberField
            label="Timeout (seconds)"
            value={data.timeout_seconds}
            onChange={(value) => set('timeout_seconds', value)}
            error={errors.timeout_seconds}
            hint="Optional; the flow's limits apply otherwise"
            testId="panel-timeout"
          />
        </>
      )}

      <section className="panel-connections" aria-label="Connections">
        <h3>Connections</h3>
        {node.type === 'trigger' ? (
          <p className={errors.target ? 'field-error' : 'muted'}>
            {errors.target ?? `Starts ${peers.join(', ')}`}
          </p>
        ) : (
          <>
            <p className="muted">Sends to: {peers.length ? peers.join(', ') : 'nothing (the message ends here)'}</p>
            {info.hasErrorOutput ? (
              <p className="muted">
                On error: {errorPeer.length ? errorPeer.join(', ') : 'fail the execution'} — drag from the red handle to
                route errors.
              </p>
            ) : null}
            {errors.on_error ? <p className="field-error">{errors.on_error}</p> : null}
          </>
        )}
        <KeyboardConnect node={node} nodes={nodes} edges={edges} dispatch={dispatch} />
      </section>
    </form>
  );
}

/** Connecting without a mouse: pick a node and connect (the same rules as drawing an edge). */
function KeyboardConnect({ node, nodes, edges, dispatch }: Omit<NodePanelProps, 'serverProblems'>) {
  const [target, setTarget] = useState('');
  const [handle, setHandle] = useState<'out' | 'error'>('out');
  const info = KINDS[node.type as keyof typeof KINDS] ?? KINDS.code;
  if (!info.hasOutput && !info.hasErrorOutput) return null;
  const sourceHandle = handle === 'error' ? ERROR_HANDLE : null;
  const candidates = nodes.filter(
    (candidate) => !connectionProblem(nodes, edges, { source: node.id, target: candidate.id, sourceHandle }),
  );
  return (
    <div className="field-row keyboard-connect">
      {info.hasErrorOutput ? (
        <label className="field">
          <span>Route</span>
          <select value={handle} onChange={(event) => setHandle(event.target.value as 'out' | 'error')} data-testid="panel-connect-handle">
            <option value="out">{node.type === 'trigger' ? 'Starts' : 'Sends to'}</option>
            <option value="error">On error</option>
          </select>
        </label>
      ) : null}
      <label className="field">
        <span>{info.hasErrorOutput ? 'Node' : node.type === 'trigger' ? 'Starts' : 'Sends to'}</span>
        <select value={target} onChange={(event) => setTarget(event.target.value)} data-testid="panel-connect-target">
          <option value="">Choose a node…</option>
          {candidates.map((candidate) => (
            <option key={candidate.id} value={candidate.id}>
              {candidate.data.name}
            </option>
          ))}
        </select>
      </label>
      <button
        type="button"
        className="button button-small"
        disabled={!target}
        onClick={() => {
          dispatch({ type: 'connect', connection: { source: node.id, target, sourceHandle } });
          setTarget('');
        }}
        data-testid="panel-connect"
      >
        Connect
      </button>
    </div>
  );
}

interface TriggerFieldsProps {
  data: NodeData;
  errors: FieldErrors;
  set: (field: string, value: unknown) => void;
}

function TriggerFields({ data, errors, set }: TriggerFieldsProps) {
  return (
    <>
      <SelectField
        label="Kind"
        value={data.kind}
        options={[
          ['manual', 'Manual (Run button)'],
          ['webhook', 'Webhook'],
          ['schedule', 'Schedule (cron)'],
        ]}
        onChange={(value) => set('kind', value)}
        error={errors.kind}
        testId="panel-trigger-kind"
      />
      {data.kind === 'schedule' ? (
        <>
          <TextField
            label="Cron"
            value={data.cron}
            onChange={(value) => set('cron', value)}
            error={errors.cron}
            placeholder="0 2 * * *"
            hint="minute hour day month weekday"
            testId="panel-cron"
            monospace
          />
          <TextField
            label="Timezone"
            value={data.timezone}
            onChange={(value) => set('timezone', value)}
            placeholder="UTC"
            testId="panel-timezone"
          />
          <JsonField
            label="Payload"
            value={data.payload}
            onChange={(value) => set('payload', value)}
            error={errors.payload}
            expect="object"
            hint="Sent to the target on each tick"
            testId="panel-payload"
          />
        </>
      ) : null}
      {data.kind === 'webhook' ? (
        <p className="muted small">The webhook URL is in the Flow tab once the flow is saved.</p>
      ) : null}
    </>
  );
}
