import { useCallback, useEffect, useMemo, useRef, useState, type Dispatch, type DragEvent } from 'react';
import {
  Background,
  ControlButton,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  useReactFlow,
  type Connection as RFConnection,
  type Edge,
  type EdgeChange,
  type NodeChange,
  type Viewport,
} from '@xyflow/react';
import { ERROR_HANDLE, isNodeKind, type FlowEdge, type FlowNode } from './nodeKinds';
import { edgeTypes, nodeTypes } from './FlowNodeView';
import { DND_MIME, TOOL_MIME } from './Palette';
import { storeClip } from './clipboard';
import { connectionProblem, copySelection, selectionIds, type EditorAction, type EditorState } from './store';

interface CanvasProps {
  state: EditorState;
  dispatch: Dispatch<EditorAction>;
  /** Fit a stored canvas without a viewport into view (only the first time the canvas shows). */
  fitOnMount: boolean;
  onInit?: () => void;
  /** A smaller minimap when the canvas shares the screen with the YAML. */
  compact?: boolean;
}

const NODE_WIDTH = 180;
const NODE_HEIGHT = 70;

function decorate(edge: FlowEdge): Edge {
  const isError = edge.sourceHandle === ERROR_HANDLE;
  const isSelf = edge.source === edge.target;
  return {
    ...edge,
    type: isSelf ? 'selfLoop' : 'default',
    className: isError ? 'edge-error' : undefined,
    label: isError ? 'on error' : isSelf ? 'loop' : undefined,
    markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18 },
    ariaLabel: `Edge from ${edge.source} to ${edge.target}${isError ? ' on error' : ''}`,
  };
}

export function Canvas({ state, dispatch, fitOnMount, onInit, compact }: CanvasProps) {
  const { screenToFlowPosition, getViewport, fitView } = useReactFlow();
  const [minimap, setMinimap] = useState(() => window.localStorage.getItem('flowplane.editor.minimap') !== 'off');
  const toggleMinimap = () => {
    setMinimap((shown) => {
      window.localStorage.setItem('flowplane.editor.minimap', shown ? 'off' : 'on');
      return !shown;
    });
  };
  // Entering or leaving Split view changes the canvas size: fit the flow into the new size.
  const lastCompact = useRef(compact);
  useEffect(() => {
    if (lastCompact.current === compact) return;
    lastCompact.current = compact;
    const timer = window.setTimeout(() => void fitView({ maxZoom: 1, padding: 0.2 }), 50);
    return () => window.clearTimeout(timer);
  }, [compact, fitView]);
  const stateRef = useRef(state);
  stateRef.current = state;
  const initialViewport = useRef<Viewport>(state.viewport);
  // Fit a stored canvas that has no viewport of its own, once; never refit while the user draws.
  const fitOnInit = useRef(
    fitOnMount &&
      state.nodes.length > 0 &&
      state.viewport.x === 0 &&
      state.viewport.y === 0 &&
      state.viewport.zoom === 1,
  );
  // Switching to the YAML view unmounts the canvas: remember where the user was looking.
  useEffect(() => () => dispatch({ type: 'setViewport', viewport: getViewport() }), [dispatch, getViewport]);
  const edges = useMemo(() => state.edges.map(decorate), [state.edges]);

  const onNodesChange = useCallback(
    (changes: NodeChange<FlowNode>[]) => dispatch({ type: 'nodesChange', changes }),
    [dispatch],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange<Edge>[]) => dispatch({ type: 'edgesChange', changes: changes as EdgeChange<FlowEdge>[] }),
    [dispatch],
  );
  const onConnect = useCallback(
    (connection: RFConnection) =>
      dispatch({
        type: 'connect',
        connection: { source: connection.source, target: connection.target, sourceHandle: connection.sourceHandle },
      }),
    [dispatch],
  );
  const isValidConnection = useCallback(
    (connection: Edge | RFConnection) =>
      !connectionProblem(stateRef.current.nodes, stateRef.current.edges, {
        source: connection.source,
        target: connection.target,
        sourceHandle: connection.sourceHandle ?? null,
      }),
    [],
  );
  const onDragOver = useCallback((event: DragEvent) => {
    if (Array.from(event.dataTransfer.types).includes(DND_MIME)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    }
  }, []);
  const onDrop = useCallback(
    (event: DragEvent) => {
      const kind = event.dataTransfer.getData(DND_MIME);
      if (!isNodeKind(kind)) return;
      event.preventDefault();
      const point = screenToFlowPosition({ x: event.clientX, y: event.clientY });
      const tool = event.dataTransfer.getData(TOOL_MIME);
      dispatch({
        type: 'addNode',
        kind,
        position: { x: point.x - NODE_WIDTH / 2, y: point.y - NODE_HEIGHT / 2 },
        ...(tool && kind === 'code' ? { data: { handler: tool, config: {} } } : {}),
      });
    },
    [dispatch, screenToFlowPosition],
  );

  const [menu, setMenu] = useState<{ x: number; y: number } | null>(null);
  const wrapper = useRef<HTMLDivElement>(null);
  const menuAction = (action: 'duplicate' | 'copy' | 'delete') => {
    const current = stateRef.current;
    const clip = copySelection(current);
    if (action === 'duplicate' && clip) dispatch({ type: 'paste', clip, offset: { x: 40, y: 40 } });
    if (action === 'copy' && clip) storeClip(clip);
    if (action === 'delete') dispatch({ type: 'remove', ...selectionIds(current) });
    setMenu(null);
  };

  return (
    <div
      className="canvas"
      data-testid="canvas"
      onDragOver={onDragOver}
      onDrop={onDrop}
      ref={wrapper}
      onKeyDown={(event) => event.key === 'Escape' && setMenu(null)}
    >
      <ReactFlow<FlowNode, Edge>
        nodes={state.nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        isValidConnection={isValidConnection}
        onNodeDragStart={() => dispatch({ type: 'beginDrag' })}
        onNodeContextMenu={(event, node) => {
          event.preventDefault();
          if (!node.selected) dispatch({ type: 'select', id: node.id });
          const box = wrapper.current?.getBoundingClientRect();
          setMenu({ x: event.clientX - (box?.left ?? 0), y: event.clientY - (box?.top ?? 0) });
        }}
        onPaneClick={() => setMenu(null)}
        selectionOnDrag={false}
        onMoveEnd={(_, viewport) => dispatch({ type: 'setViewport', viewport })}
        onInit={onInit}
        defaultViewport={initialViewport.current}
        fitView={fitOnInit.current}
        fitViewOptions={{ maxZoom: 1, padding: 0.2 }}
        deleteKeyCode={null}
        multiSelectionKeyCode={['Meta', 'Control', 'Shift']}
        minZoom={0.2}
        maxZoom={2}
        snapToGrid
        snapGrid={[10, 10]}
        attributionPosition="top-right"
        aria-label="Flow canvas"
      >
        <Background gap={20} size={1} />
        {minimap ? (
          <MiniMap
            pannable
            zoomable
            ariaLabel="Minimap"
            className="minimap"
            style={compact ? { width: 120, height: 90 } : undefined}
          />
        ) : null}
        <Controls showInteractive={false} aria-label="Zoom controls">
          <ControlButton
            onClick={toggleMinimap}
            aria-label={minimap ? 'Hide minimap' : 'Show minimap'}
            title={minimap ? 'Hide minimap' : 'Show minimap'}
            data-testid="toggle-minimap"
          >
            ▦
          </ControlButton>
        </Controls>
      </ReactFlow>
      {menu ? (
        <div className="context-menu" role="menu" aria-label="Node actions" style={{ left: menu.x, top: menu.y }} data-testid="node-menu">
          <button type="button" role="menuitem" onClick={() => menuAction('duplicate')} data-testid="node-menu-duplicate" autoFocus>
            Duplicate <kbd>Ctrl+D</kbd>
          </button>
          <button type="button" role="menuitem" onClick={() => menuAction('copy')} data-testid="node-menu-copy">
            Copy <kbd>Ctrl+C</kbd>
          </button>
          <button type="button" role="menuitem" onClick={() => menuAction('delete')} data-testid="node-menu-delete">
            Delete <kbd>Del</kbd>
          </button>
        </div>
      ) : null}
    </div>
  );
}
