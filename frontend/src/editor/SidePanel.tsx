// The right-hand panel: the selected node's settings, or the flow (runtime, webhook, problems).
import type { Dispatch } from 'react';
import type { Flow, FlowRuntimeStatus, Problem } from '../api/types';
import { FlowPanel } from './FlowPanel';
import { NodePanel } from './NodePanel';
import type { FlowNode } from './nodeKinds';
import type { EditorAction, EditorState } from './store';

export type PanelTab = 'node' | 'flow';

interface SidePanelProps {
  tab: PanelTab;
  onTab: (tab: PanelTab) => void;
  flow: Flow;
  runtime: FlowRuntimeStatus | undefined;
  state: EditorState;
  dispatch: Dispatch<EditorAction>;
  selected: FlowNode | null;
  problems: Problem[];
  localCount: number;
  dirty: boolean;
  onRestored: (flow: Flow) => void;
}

export function SidePanel({
  tab,
  onTab,
  flow,
  runtime,
  state,
  dispatch,
  selected,
  problems,
  localCount,
  dirty,
  onRestored,
}: SidePanelProps) {
  return (
    <aside className="side-panel" aria-label="Settings panel">
      <div role="tablist" aria-label="Panel" className="panel-tabs">
        <button
          type="button"
          role="tab"
          aria-selected={tab === 'node'}
          className={tab === 'node' ? 'active' : undefined}
          onClick={() => onTab('node')}
          data-testid="panel-tab-node"
        >
          Node
        </button>
        <button
          type="button"
          role="tab"
          aria-selected={tab === 'flow'}
          className={tab === 'flow' ? 'active' : undefined}
          onClick={() => onTab('flow')}
          data-testid="panel-tab-flow"
        >
          Flow
        </button>
      </div>
      <div className="panel-content" role="tabpanel">
        {tab === 'node' ? (
          selected ? (
            <NodePanel
              key={selected.id}
              node={selected}
              nodes={state.nodes}
              edges={state.edges}
              dispatch={dispatch}
              serverProblems={problems.filter((problem) => problem.node_id === selected.id)}
            />
          ) : (
            <p className="muted panel-empty">Select a node on the canvas to edit its settings.</p>
          )
        ) : (
          <FlowPanel
            flow={flow}
            dirty={dirty}
            onRestored={onRestored}
            runtime={runtime}
            problems={problems}
            localProblemCount={localCount}
            nodes={state.nodes}
          />
        )}
      </div>
    </aside>
  );
}
