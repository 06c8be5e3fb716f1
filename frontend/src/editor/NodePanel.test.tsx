import { fireEvent, render, screen } from '@testing-library/react';
import { useReducer } from 'react';
import { describe, expect, it } from 'vitest';
import { NodePanel } from './NodePanel';
import { createEditorState, editorReducer, type EditorAction, type EditorState } from './store';

function Harness({ setup, onState }: { setup: EditorAction[]; onState: (state: EditorState) => void }) {
  const [state, dispatch] = useReducer(editorReducer, undefined, () => setup.reduce(editorReducer, createEditorState()));
  onState(state);
  const node = state.nodes.find((n) => n.selected) ?? state.nodes[0];
  if (!node) return <p>no node</p>;
  return <NodePanel node={node} nodes={state.nodes} edges={state.edges} dispatch={dispatch} serverProblems={[]} />;
}

function renderPanel(setup: EditorAction[]) {
  const ref: { state: EditorState | null } = { state: null };
  render(<Harness setup={setup} onState={(state) => (ref.state = state)} />);
  return ref;
}

describe('NodePanel', () => {
  it('edits the name and shows the validation message', () => {
    const ref = renderPanel([
      { type: 'addNode', kind: 'output', position: { x: 0, y: 0 } },
      { type: 'addNode', kind: 'transform', position: { x: 0, y: 0 } },
    ]);
    const name = screen.getByLabelText('Name');
    fireEvent.change(name, { target: { value: 'output' } });
    expect(screen.getByText('Another listener is already named "output"')).toBeTruthy();
    expect(name.getAttribute('aria-invalid')).toBe('true');
    fireEvent.change(name, { target: { value: 'shape' } });
    expect(screen.queryByText(/already named/)).toBeNull();
    expect(ref.state?.nodes[1].data.name).toBe('shape');
    // typing in one field is one undo step
    expect(ref.state?.past.length).toBe(3);
  });

  it('edits handler settings and validates them', () => {
    const ref = renderPanel([{ type: 'addNode', kind: 'http', position: { x: 0, y: 0 } }]);
    fireEvent.change(screen.getByLabelText('URL'), { target: { value: 'ftp://nope' } });
    expect(screen.getByText('URL must start with http:// or https://')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Method'), { target: { value: 'POST' } });
    expect(ref.state?.nodes[0].data.config).toEqual({ method: 'POST', url: 'ftp://nope' });
  });

  it('keeps invalid JSON local and explains it', () => {
    const ref = renderPanel([{ type: 'addNode', kind: 'http', position: { x: 0, y: 0 } }]);
    const headers = screen.getByLabelText('Headers');
    fireEvent.change(headers, { target: { value: '{"a": ' } });
    expect(screen.getByText(/Invalid JSON/)).toBeTruthy();
    expect(ref.state?.nodes[0].data.config).toEqual({ method: 'GET', url: 'https://example.com' });
    fireEvent.change(headers, { target: { value: '[1]' } });
    expect(screen.getByText(/Enter a JSON object/)).toBeTruthy();
    fireEvent.change(headers, { target: { value: '{"X-Token": "1"}' } });
    expect(ref.state?.nodes[0].data.config).toMatchObject({ headers: { 'X-Token': '1' } });
  });

  it('asks a loop for a bound and edits it as a number', () => {
    const ref = renderPanel([{ type: 'addNode', kind: 'loop', position: { x: 0, y: 0 } }]);
    const max = screen.getByLabelText('Max iterations');
    fireEvent.change(max, { target: { value: '' } });
    expect(screen.getByText('A loop needs a bound on its iterations')).toBeTruthy();
    fireEvent.change(max, { target: { value: '12' } });
    expect(ref.state?.nodes[0].data.max_iterations).toBe(12);
  });

  it('shows schedule fields for a schedule trigger', () => {
    renderPanel([{ type: 'addNode', kind: 'trigger', position: { x: 0, y: 0 } }]);
    expect(screen.queryByLabelText('Cron')).toBeNull();
    fireEvent.change(screen.getByLabelText('Kind'), { target: { value: 'schedule' } });
    expect(screen.getByText('A schedule needs a cron expression')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Cron'), { target: { value: '0 2 * * *' } });
    expect(screen.queryByText('A schedule needs a cron expression')).toBeNull();
  });

  it('builds branch cases from connected peers', () => {
    const ref = renderPanel([
      { type: 'addNode', kind: 'output', position: { x: 0, y: 0 } },
      { type: 'addNode', kind: 'branch', position: { x: 0, y: 0 } },
      { type: 'connect', connection: { source: 'branch_1', target: 'output_1' } },
    ]);
    fireEvent.click(screen.getByLabelText('Add case'));
    expect(ref.state?.nodes[1].data.config).toEqual({ cases: [{ when: '', to: 'output' }] });
    expect(screen.getByText('Condition is required')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Case 1: when'), { target: { value: "payload.kind == 'a'" } });
    expect(screen.queryByText('Condition is required')).toBeNull();
  });

  it('deletes the node', () => {
    const ref = renderPanel([{ type: 'addNode', kind: 'output', position: { x: 0, y: 0 } }]);
    fireEvent.click(screen.getByLabelText('Delete node'));
    expect(ref.state?.nodes).toHaveLength(0);
    expect(screen.getByText('no node')).toBeTruthy();
  });
});
