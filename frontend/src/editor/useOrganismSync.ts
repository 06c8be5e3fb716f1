// Two-way sync between the canvas (editor state) and the YAML text, through the server's
// compile and parse endpoints (the organism language has one implementation: pump/organism).
//
//   canvas change ──(debounce)──▶ compile ──▶ YAML text (unless the change came from the YAML) + node badges
//   YAML typing   ──(debounce)──▶ parse   ──▶ applyParsed(canvas) + line markers
import { useCallback, useEffect, useMemo, useRef, useState, type Dispatch } from 'react';
import { api } from '../api/endpoints';
import { errorMessage } from '../api/client';
import type { CanvasJson, Problem } from '../api/types';
import { semanticKey, toCanvasJson, type EditorAction, type EditorState } from './store';

export const COMPILE_DEBOUNCE_MS = 350;
export const PARSE_DEBOUNCE_MS = 500;

/** Who wrote the YAML text currently shown. */
export type YamlSource = 'server' | 'compiled' | 'user';

export type FlushResult =
  | { ok: true; canvas: CanvasJson; yaml: string }
  | { ok: false; message: string; problems: Problem[] };

interface SyncOptions {
  state: EditorState;
  dispatch: Dispatch<EditorAction>;
  flowName: string;
  flowDescription?: string | null;
  initialYaml: string;
  enabled: boolean;
}

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

export function useOrganismSync({ state, dispatch, flowName, flowDescription, initialYaml, enabled }: SyncOptions) {
  const [yamlText, setYamlTextState] = useState(initialYaml);
  const [yamlSource, setYamlSourceState] = useState<YamlSource>('server');
  const [compileProblems, setCompileProblems] = useState<Problem[]>([]);
  const [parseProblems, setParseProblemsState] = useState<Problem[]>([]);
  const [compiling, setCompiling] = useState(false);
  const [parsing, setParsing] = useState(false);
  const [syncError, setSyncError] = useState<string | null>(null);
  /** The canvas changed but does not compile yet: the YAML shown is the last one that did. */
  const [yamlStale, setYamlStale] = useState(false);

  const stateRef = useRef(state);
  stateRef.current = state;
  const yamlRef = useRef(initialYaml);
  /** The text the canvas as it stands came from or compiled to (what undo of the next parse restores). */
  const canvasYamlRef = useRef(initialYaml);
  const sourceRef = useRef<YamlSource>('server');
  const parseProblemsRef = useRef<Problem[]>([]);
  const flowNameRef = useRef(flowName);
  flowNameRef.current = flowName;
  const descriptionRef = useRef(flowDescription);
  descriptionRef.current = flowDescription;

  const compileTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const parseTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const compileSeq = useRef(0);
  const parseSeq = useRef(0);
  const compileAbort = useRef<AbortController | null>(null);
  const parseAbort = useRef<AbortController | null>(null);
  const parseInFlight = useRef<Promise<unknown> | null>(null);

  const setYaml = useCallback((text: string, source: YamlSource) => {
    yamlRef.current = text;
    sourceRef.current = source;
    setYamlTextState(text);
    setYamlSourceState(source);
  }, []);

  const setParseProblems = useCallback((problems: Problem[]) => {
    parseProblemsRef.current = problems;
    setParseProblemsState(problems);
  }, []);

  const runCompile = useCallback(
    async (replaceText: boolean) => {
      const seq = ++compileSeq.current;
      compileAbort.current?.abort();
      const controller = new AbortController();
      compileAbort.current = controller;
      setCompiling(true);
      const textAtStart = yamlRef.current;
      try {
        const result = await api.compile(
          toCanvasJson(stateRef.current),
          flowNameRef.current,
          controller.signal,
          descriptionRef.current,
        );
        if (seq !== compileSeq.current) return null;
        setCompileProblems(result.problems ?? []);
        if (replaceText) setYamlStale(typeof result.yaml !== 'string');
        // Text typed meanwhile wins: its own parse follows.
        if (replaceText && typeof result.yaml === 'string' && yamlRef.current === textAtStart) {
          // The canvas is the newer truth: drop any parse still pending for older text.
          parseSeq.current += 1;
          if (parseTimer.current) clearTimeout(parseTimer.current);
          parseTimer.current = null;
          setYaml(result.yaml, 'compiled');
          canvasYamlRef.current = result.yaml;
          setParseProblems([]);
        }
        setSyncError(null);
        return result;
      } catch (error) {
        if (isAbort(error) || seq !== compileSeq.current) return null;
        setSyncError(`Could not compile: ${errorMessage(error)}`);
        return null;
      } finally {
        if (seq === compileSeq.current) setCompiling(false);
      }
    },
    [setYaml, setParseProblems],
  );

  const runParse = useCallback(async () => {
    const seq = ++parseSeq.current;
    parseAbort.current?.abort();
    const controller = new AbortController();
    parseAbort.current = controller;
    setParsing(true);
    const text = yamlRef.current;
    const promise = (async () => {
      try {
        const result = await api.parse(text, toCanvasJson(stateRef.current), controller.signal);
        if (seq !== parseSeq.current) return null;
        setParseProblems(result.problems ?? []);
        if (result.canvas) {
          dispatch({ type: 'applyParsed', canvas: result.canvas, yaml: text, previousYaml: canvasYamlRef.current });
          canvasYamlRef.current = text;
        }
        setSyncError(null);
        return result;
      } catch (error) {
        if (isAbort(error) || seq !== parseSeq.current) return null;
        setSyncError(`Could not parse: ${errorMessage(error)}`);
        return null;
      } finally {
        if (seq === parseSeq.current) {
          setParsing(false);
          parseInFlight.current = null;
        }
      }
    })();
    parseInFlight.current = promise;
    return promise;
  }, [dispatch, setParseProblems]);

  // Canvas → YAML. Positions do not compile, so moving nodes does not call the server.
  const semantic = useMemo(
    () => semanticKey(state.nodes, state.edges, state.settings),
    [state.nodes, state.edges, state.settings],
  );
  useEffect(() => {
    if (!enabled) return;
    const { origin, yaml } = stateRef.current;
    const restored = origin === 'history' && typeof yaml === 'string';
    if (restored) {
      // Undo or redo of a YAML edit: the text comes back as it was written.
      parseSeq.current += 1;
      if (parseTimer.current) clearTimeout(parseTimer.current);
      parseTimer.current = null;
      setYaml(yaml, 'user');
      canvasYamlRef.current = yaml;
      setParseProblems([]);
      setYamlStale(false);
    }
    const replaceText = !restored && (origin === 'canvas' || origin === 'history' || !yamlRef.current.trim());
    if (compileTimer.current) clearTimeout(compileTimer.current);
    compileTimer.current = setTimeout(() => {
      compileTimer.current = null;
      void runCompile(replaceText && origin !== 'yaml');
    }, COMPILE_DEBOUNCE_MS);
  }, [semantic, enabled, runCompile]);

  // YAML → canvas.
  const onYamlChange = useCallback(
    (text: string) => {
      if (text === yamlRef.current) return;
      setYaml(text, 'user');
      setYamlStale(false);
      if (parseTimer.current) clearTimeout(parseTimer.current);
      parseTimer.current = setTimeout(() => {
        parseTimer.current = null;
        void runParse();
      }, PARSE_DEBOUNCE_MS);
    },
    [runParse, setYaml],
  );

  useEffect(
    () => () => {
      if (compileTimer.current) clearTimeout(compileTimer.current);
      if (parseTimer.current) clearTimeout(parseTimer.current);
      compileAbort.current?.abort();
      parseAbort.current?.abort();
    },
    [],
  );

  /** Settles pending work and returns what to save: the canvas and its YAML. */
  const flush = useCallback(async (): Promise<FlushResult> => {
    let canvas = toCanvasJson(stateRef.current);
    if (parseTimer.current || parseInFlight.current) {
      if (parseTimer.current) clearTimeout(parseTimer.current);
      parseTimer.current = null;
      const result = await runParse();
      if (!result) return { ok: false, message: 'Could not check the YAML; try again', problems: [] };
      if (!result.canvas) {
        return {
          ok: false,
          message: `The YAML has ${plural(result.problems.length, 'problem')}; fix them before saving`,
          problems: result.problems,
        };
      }
      canvas = { ...result.canvas, viewport: canvas.viewport };
    }
    if (sourceRef.current === 'user') {
      const problems = parseProblemsRef.current;
      if (problems.length) {
        return {
          ok: false,
          message: `The YAML has ${plural(problems.length, 'problem')}; fix them before saving`,
          problems,
        };
      }
      return { ok: true, canvas, yaml: yamlRef.current };
    }
    if (compileTimer.current) clearTimeout(compileTimer.current);
    compileTimer.current = null;
    const compiled = await runCompile(true);
    if (!compiled) return { ok: false, message: 'Could not compile the flow; try again', problems: [] };
    if (typeof compiled.yaml !== 'string') {
      return {
        ok: false,
        message: `The flow has ${plural(compiled.problems.length, 'problem')}; fix them before saving`,
        problems: compiled.problems,
      };
    }
    return { ok: true, canvas, yaml: compiled.yaml };
  }, [runCompile, runParse]);

  const problems = useMemo(() => [...parseProblems, ...compileProblems], [parseProblems, compileProblems]);

  return {
    yamlText,
    yamlSource,
    onYamlChange,
    compileProblems,
    parseProblems,
    problems,
    yamlStale,
    syncing: compiling || parsing,
    syncError,
    flush,
  };
}
