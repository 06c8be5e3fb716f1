// The flow editor: /flow/:id. Canvas, YAML (lazy Monaco), side panel, run, start/stop, logs.
import { lazy, Suspense, useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { Link, useBlocker, useParams } from 'react-router';
import { ReactFlowProvider, useReactFlow, useViewport } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError, errorMessage } from '../api/client';
import { api } from '../api/endpoints';
import {
  keys,
  useExecution,
  useFlow,
  useFlowStatus,
  useSecretNames,
  useStartStop,
  useUpdateFlow,
} from '../api/queries';
import type { Flow, FlowRuntimeStatus, Problem } from '../api/types';
import { Modal } from '../components/Modal';
import { Canvas } from '../editor/Canvas';
import { EditorFooter, EditorToolbar, type ViewMode } from '../editor/EditorToolbar';
import { LogPanel } from '../editor/LogPanel';
import { Palette } from '../editor/Palette';
import { SidePanel, type PanelTab } from '../editor/SidePanel';
import { RunDialog } from '../editor/RunDialog';
import type { NodeKind } from '../editor/nodeKinds';
import { NodeProblemsContext, dedupeProblems, describeProblem, problemsByNode } from '../editor/problems';
import { loadClip, storeClip } from '../editor/clipboard';
import {
  canRedo,
  canUndo,
  contentKey,
  copySelection,
  selectionIds,
  createEditorState,
  editorReducer,
  fromCanvasJson,
  isDirty,
  selectedNode,
} from '../editor/store';
import { RunDataContext, runDataOf } from '../editor/runData';
import { SecretNamesContext } from '../editor/secretNames';
import { useOrganismSync } from '../editor/useOrganismSync';
import { validateCanvas } from '../editor/validation';
import { PublishDialog } from '../marketplace/PublishDialog';

const YamlEditor = lazy(() => import('../editor/YamlEditor'));

const MODE_KEY = 'flowplane.editor.mode';

function initialMode(): ViewMode {
  const stored = typeof window !== 'undefined' ? window.localStorage.getItem(MODE_KEY) : null;
  return stored === 'yaml' || stored === 'split' ? stored : 'canvas';
}

type SaveState =
  | { status: 'idle' }
  | { status: 'saving' }
  | { status: 'saved'; at: number }
  | { status: 'error'; message: string; problems: Problem[] };

function isEditableTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)) return true;
  return Boolean(target.closest('.monaco-editor'));
}

const NO_PROBLEMS: Problem[] = [];
const NO_NAMES: string[] = [];

function mergeProblems(first: Problem[], second: Problem[]): Problem[] {
  return dedupeProblems([...first, ...second]);
}

function ZoomReadout() {
  const { zoom } = useViewport();
  return <span data-testid="footer-zoom">{Math.round(zoom * 100)}%</span>;
}

function FlowEditor({ flow, onReload }: { flow: Flow; onReload: (flow: Flow) => void }) {
  const client = useQueryClient();
  const [state, dispatch] = useReducer(editorReducer, flow.canvas_state, createEditorState);
  const needsLayout = !state.nodes.length && Boolean(flow.organism_yaml?.trim());
  const [bootstrapping, setBootstrapping] = useState(needsLayout);
  const [bootError, setBootError] = useState<string | null>(null);
  const [mode, setModeState] = useState<ViewMode>(initialMode);
  const [saveState, setSaveState] = useState<SaveState>({ status: 'idle' });
  const [runOpen, setRunOpen] = useState(false);
  const [publishing, setPublishing] = useState(false);
  const [logsOpen, setLogsOpen] = useState(true);
  const [tab, setTab] = useState<PanelTab>('flow');
  const [actionError, setActionError] = useState<string | null>(null);
  const canvasWrap = useRef<HTMLDivElement>(null);
  const canvasShown = useRef(false);
  const { screenToFlowPosition } = useReactFlow();

  const sync = useOrganismSync({
    state,
    dispatch,
    flowName: flow.name,
    flowDescription: flow.description,
    initialYaml: flow.organism_source || flow.organism_yaml || '',
    enabled: !bootstrapping,
  });

  const updateFlow = useUpdateFlow();
  // The run whose data the canvas shows: the latest Run from this editor, else the flow's last.
  const [lastRunId, setLastRunId] = useState<string | undefined>(flow.last_execution?.id);
  const lastRun = useExecution(lastRunId);
  const runData = useMemo(() => runDataOf(lastRun.data), [lastRun.data]);
  const secretNames = useSecretNames(flow.id);
  const runtime = useFlowStatus(flow.id);
  const { start, stop } = useStartStop(flow.id);
  const status = runtime.data?.status ?? flow.status;
  const dirty = isDirty(state);
  const selected = selectedNode(state);
  const localProblems = useMemo(() => validateCanvas(state.nodes, state.edges), [state.nodes, state.edges]);
  const saveProblems = saveState.status === 'error' ? saveState.problems : NO_PROBLEMS;
  const problems = useMemo(() => mergeProblems(sync.problems, saveProblems), [sync.problems, saveProblems]);
  const serverByNode = useMemo(() => problemsByNode(problems, state.nodes), [problems, state.nodes]);
  const problemsContext = useMemo(() => ({ server: serverByNode, local: localProblems }), [serverByNode, localProblems]);

  // A flow that only has YAML (made through the API) is laid out by the server once.
  useEffect(() => {
    if (!needsLayout) return;
    let cancelled = false;
    api
      .parse(flow.organism_yaml ?? '')
      .then((result) => {
        if (cancelled) return;
        if (result.canvas) dispatch({ type: 'load', canvas: result.canvas });
        else setBootError(result.problems.map((problem) => describeProblem(problem)).join('; '));
      })
      .catch((error) => !cancelled && setBootError(errorMessage(error)))
      .finally(() => !cancelled && setBootstrapping(false));
    return () => {
      cancelled = true;
    };
  }, []);

  useEffect(() => {
    setTab(selected ? 'node' : 'flow');
  }, [selected?.id]);

  const setMode = (next: ViewMode) => {
    setModeState(next);
    window.localStorage.setItem(MODE_KEY, next);
  };

  const saving = saveState.status === 'saving';
  const save = useCallback(async (): Promise<boolean> => {
    setSaveState({ status: 'saving' });
    const result = await sync.flush();
    if (!result.ok) {
      setSaveState({ status: 'error', message: result.message, problems: result.problems });
      return false;
    }
    const saved = fromCanvasJson(result.canvas);
    const key = contentKey(saved.nodes, saved.edges, saved.settings);
    try {
      const savedFlow = await updateFlow.mutateAsync({
        id: flow.id,
        input: { canvas_state: result.canvas, organism_yaml: result.yaml },
      });
      dispatch({ type: 'markSaved', key });
      if (savedFlow.redeploy && savedFlow.redeploy !== 'applied') {
        setActionError(`Saved v${savedFlow.version}, but ${savedFlow.redeploy}`);
      }
      setSaveState({ status: 'saved', at: Date.now() });
      return true;
    } catch (error) {
      setSaveState({
        status: 'error',
        message: errorMessage(error),
        problems: error instanceof ApiError ? error.problems : [],
      });
      return false;
    }
  }, [sync, updateFlow, flow.id]);

  const setRuntimeStatus = (next: string) =>
    client.setQueryData<FlowRuntimeStatus>(keys.status(flow.id), (old) =>
      old ? { ...old, status: next } : { desired: next, observed: status, status: next, reason: null, heartbeat: null },
    );

  const onStart = async (): Promise<boolean> => {
    setActionError(null);
    if (dirty && !(await save())) return false;
    try {
      const result = await start.mutateAsync();
      setRuntimeStatus(result?.status ?? 'starting');
      return true;
    } catch (error) {
      setActionError(`Could not start: ${errorMessage(error)}`);
      return false;
    }
  };

  const onExport = async () => {
    setActionError(null);
    try {
      const text = await api.exportFlow(flow.id);
      const url = URL.createObjectURL(new Blob([text], { type: 'application/yaml' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = `${flow.name}.flow.yaml`;
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (error) {
      setActionError(`Could not export: ${errorMessage(error)}`);
    }
  };

  const onStop = async () => {
    setActionError(null);
    try {
      const result = await stop.mutateAsync();
      setRuntimeStatus(result?.status ?? 'stopped');
    } catch (error) {
      setActionError(`Could not stop: ${errorMessage(error)}`);
    }
  };

  const addFromPalette = (kind: NodeKind, handler?: string) => {
    const rect = canvasWrap.current?.getBoundingClientRect();
    const position = rect
      ? screenToFlowPosition({ x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 })
      : { x: 120, y: 120 };
    dispatch({
      type: 'addNode',
      kind,
      position: { x: position.x - 90, y: position.y - 35 },
      avoidOverlap: true,
      ...(handler ? { data: { handler, config: {} } } : {}),
    });
  };

  // Keyboard: Ctrl/Cmd+S saves anywhere; undo/redo, delete, copy, paste and duplicate when focus
  // is not in a text field or Monaco. Delete is one action (nodes with their edges): one undo step.
  const saveRef = useRef(save);
  saveRef.current = save;
  const stateRef = useRef(state);
  stateRef.current = state;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const mod = event.ctrlKey || event.metaKey;
      if (!mod && (event.key === 'Delete' || event.key === 'Backspace')) {
        if (isEditableTarget(event.target)) return;
        const ids = selectionIds(stateRef.current);
        if (!ids.nodeIds.length && !ids.edgeIds.length) return;
        event.preventDefault();
        dispatch({ type: 'remove', ...ids });
        return;
      }
      if (!mod) return;
      const key = event.key.toLowerCase();
      if (key === 's') {
        event.preventDefault();
        void saveRef.current();
        return;
      }
      if (isEditableTarget(event.target)) return;
      if (key === 'c' || key === 'd') {
        const clip = copySelection(stateRef.current);
        if (!clip) return;
        event.preventDefault();
        if (key === 'c') storeClip(clip);
        else dispatch({ type: 'paste', clip, offset: { x: 40, y: 40 } });
        return;
      }
      if (key === 'v') {
        const clip = loadClip();
        if (!clip) return;
        event.preventDefault();
        dispatch({ type: 'paste', clip, offset: { x: 40, y: 40 } });
        return;
      }
      if (key === 'z' && !event.shiftKey) {
        event.preventDefault();
        dispatch({ type: 'undo' });
      } else if ((key === 'z' && event.shiftKey) || key === 'y') {
        event.preventDefault();
        dispatch({ type: 'redo' });
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  // Unsaved changes: warn on reload/close and on in-app navigation.
  useEffect(() => {
    if (!dirty) return;
    const onBeforeUnload = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = '';
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => window.removeEventListener('beforeunload', onBeforeUnload);
  }, [dirty]);
  const blocker = useBlocker(
    ({ currentLocation, nextLocation }) => dirty && currentLocation.pathname !== nextLocation.pathname,
  );

  const triggers = state.nodes
    .filter((node) => node.type === 'trigger')
    .map((node) => ({ name: node.data.name, kind: String(node.data.kind ?? 'manual') }));
  const localCount = localProblems.size;
  const isRunning = status === 'running' || status === 'starting';

  const saveLabel =
    saveState.status === 'saving'
      ? 'Saving…'
      : saveState.status === 'error'
        ? `Save failed: ${saveState.message}`
        : dirty
          ? 'Unsaved changes'
          : saveState.status === 'saved'
            ? 'All changes saved'
            : 'Saved';
  const saveTone = saveState.status === 'error' ? 'error' : saveState.status === 'saving' ? 'saving' : dirty ? 'dirty' : 'saved';

  return (
    <SecretNamesContext.Provider value={secretNames.data?.names ?? NO_NAMES}>
    <RunDataContext.Provider value={runData}>
    <NodeProblemsContext.Provider value={problemsContext}>
      <div className={`editor mode-${mode}`} data-testid="editor">
        <EditorToolbar
          flowId={flow.id}
          flowName={flow.name}
          status={status}
          statusTitle={runtime.data?.reason ?? flow.status_reason ?? status}
          liveVersion={isRunning ? (runtime.data?.running_version ?? null) : null}
          outdated={isRunning && Boolean(runtime.data?.outdated)}
          dirty={dirty}
          saving={saving}
          canUndo={canUndo(state)}
          canRedo={canRedo(state)}
          startDisabled={isRunning || start.isPending}
          stopDisabled={status === 'stopped' || stop.isPending}
          mode={mode}
          logsOpen={logsOpen}
          onSave={() => void save()}
          onUndo={() => dispatch({ type: 'undo' })}
          onRedo={() => dispatch({ type: 'redo' })}
          onRun={() => setRunOpen(true)}
          onStart={() => void onStart()}
          onStop={() => void onStop()}
          onMode={setMode}
          onToggleLogs={() => setLogsOpen((open) => !open)}
          onPublish={() => setPublishing(true)}
          onExport={() => void onExport()}
        />
        {publishing ? (
          <PublishDialog source={{ kind: 'flow', flowId: flow.id, name: flow.name }} onClose={() => setPublishing(false)} />
        ) : null}

        {actionError || bootError ? (
          <p className="banner banner-error" role="alert" data-testid="editor-error">
            {actionError ?? `Could not lay out the stored YAML: ${bootError}`}
          </p>
        ) : null}

        <div className="editor-body">
          {mode !== 'yaml' ? <Palette onAdd={addFromPalette} /> : null}
          <div className="editor-work">
            {mode !== 'yaml' ? (
              <div className="work-canvas" ref={canvasWrap}>
                {bootstrapping ? <div className="page-loading">Laying out…</div> : <Canvas
                    state={state}
                    dispatch={dispatch}
                    fitOnMount={!canvasShown.current}
                    compact={mode === 'split'}
                    onInit={() => {
                      canvasShown.current = true;
                    }}
                  />}
              </div>
            ) : null}
            {mode !== 'canvas' ? (
              <div className="work-yaml">
                <Suspense fallback={<div className="page-loading">Loading editor…</div>}>
                  <YamlEditor
                    value={sync.yamlText}
                    onChange={sync.onYamlChange}
                    problems={problems}
                    nodes={state.nodes}
                    notice={
                      sync.yamlStale
                        ? 'The canvas has problems, so this is the YAML of its last valid state. Fix the problems below to update it.'
                        : null
                    }
                  />
                </Suspense>
              </div>
            ) : null}
          </div>
          <SidePanel
            tab={tab}
            onTab={setTab}
            flow={flow}
            runtime={runtime.data}
            state={state}
            dispatch={dispatch}
            selected={selected}
            problems={problems}
            localCount={localCount}
            dirty={dirty}
            onRestored={onReload}
          />
        </div>

        {logsOpen ? <LogPanel flowId={flow.id} onClose={() => setLogsOpen(false)} /> : null}

        <EditorFooter
          nodeCount={state.nodes.length}
          edgeCount={state.edges.length}
          zoom={mode !== 'yaml' ? <ZoomReadout /> : null}
          saveTone={saveTone}
          saveLabel={saveLabel}
          syncLabel={
            sync.syncError ??
            (sync.syncing
              ? 'Syncing YAML…'
              : sync.parseProblems.length
                ? 'YAML has errors: the canvas shows its last valid state'
                : sync.yamlStale
                  ? 'YAML not updated: fix the canvas problems'
                  : 'YAML in sync')
          }
          syncFailed={Boolean(sync.syncError) || sync.parseProblems.length > 0 || sync.yamlStale}
          problemCount={problems.length + localCount}
          version={flow.version}
          onShowProblems={() => setTab('flow')}
        />

        {runOpen ? (
          <RunDialog
            flowId={flow.id}
            triggers={triggers}
            flowStatus={status}
            onClose={() => setRunOpen(false)}
            onStart={onStart}
            onResult={(executionId) => {
              setLastRunId(executionId);
              void client.invalidateQueries({ queryKey: keys.execution(executionId) });
            }}
          />
        ) : null}

        {blocker.state === 'blocked' ? (
          <Modal title="Unsaved changes" onClose={() => blocker.reset()} testId="unsaved-dialog">
            <p>This flow has changes that are not saved. Leave anyway?</p>
            <div className="form-actions">
              <button type="button" className="button" onClick={() => blocker.reset()}>
                Stay
              </button>
              <button type="button" className="button button-danger" onClick={() => blocker.proceed()} data-testid="unsaved-discard">
                Discard changes
              </button>
              <button
                type="button"
                className="button button-primary"
                onClick={async () => {
                  if (await save()) blocker.proceed();
                  else blocker.reset();
                }}
              >
                Save and leave
              </button>
            </div>
          </Modal>
        ) : null}
      </div>
    </NodeProblemsContext.Provider>
    </RunDataContext.Provider>
    </SecretNamesContext.Provider>
  );
}

export default function EditorPage() {
  const { id = '' } = useParams();
  const flow = useFlow(id);
  const client = useQueryClient();
  // A restored version replaces the editor's content: mount a fresh editor on it.
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(
    (next: Flow) => {
      client.setQueryData(keys.flow(next.id), next);
      void client.invalidateQueries({ queryKey: keys.versions(next.id) });
      void client.invalidateQueries({ queryKey: keys.status(next.id) });
      setGeneration((value) => value + 1);
    },
    [client],
  );
  if (flow.isPending) {
    return (
      <div className="page-loading" role="status">
        Loading flow…
      </div>
    );
  }
  if (flow.isError) {
    return (
      <main className="page narrow">
        <h1>{flow.error instanceof ApiError && flow.error.status === 404 ? 'Flow not found' : 'Could not load the flow'}</h1>
        <p className="form-error">{errorMessage(flow.error)}</p>
        <Link to="/dashboard">Back to your flows</Link>
      </main>
    );
  }
  return (
    <ReactFlowProvider>
      <FlowEditor key={`${flow.data.id}:${generation}`} flow={flow.data} onReload={reload} />
    </ReactFlowProvider>
  );
}
