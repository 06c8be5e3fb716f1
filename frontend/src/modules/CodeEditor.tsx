// Monaco in TypeScript mode for AssemblyScript (its own lazy chunk): type errors while typing,
// and the server's build problems (`asc`) as markers on their lines.
import { useEffect, useRef, useState } from 'react';
import Editor from '@monaco-editor/react';
import type { SdkTypes } from './api';
import { configureAssemblyScript, monaco } from './monacoTypescript';

export interface BuildProblem {
  message: string;
  line: number | null;
  column: number | null;
  end_line?: number | null;
  end_column?: number | null;
  severity?: string;
  code?: string | null;
}

export interface CodeEditorProps {
  value: string;
  onChange: (value: string) => void;
  sdk: SdkTypes;
  problems: BuildProblem[];
  readOnly?: boolean;
}

type Instance = ReturnType<typeof monaco.editor.create>;
const MODEL_PATH = 'file:///module.ts';

export default function CodeEditor({ value, onChange, sdk, problems, readOnly }: CodeEditorProps) {
  const editorRef = useRef<Instance | null>(null);
  const [ready, setReady] = useState(false);
  const [typeErrors, setTypeErrors] = useState<{ line: number; message: string }[]>([]);
  configureAssemblyScript(sdk);

  useEffect(() => {
    const model = editorRef.current?.getModel();
    if (!model) return;
    const markers = problems
      .filter((problem) => problem.line)
      .map((problem) => {
        const line = Math.min(problem.line ?? 1, model.getLineCount());
        const startColumn = Math.max(1, problem.column ?? 1);
        const endLine = Math.min(problem.end_line ?? line, model.getLineCount());
        let endColumn = problem.end_column ?? model.getLineMaxColumn(endLine);
        if (endLine === line && endColumn <= startColumn) endColumn = startColumn + 1;
        return {
          severity: problem.severity === 'warning' ? monaco.MarkerSeverity.Warning : monaco.MarkerSeverity.Error,
          message: problem.code ? `${problem.message} (${problem.code})` : problem.message,
          source: 'asc',
          startLineNumber: line,
          startColumn,
          endLineNumber: endLine,
          endColumn,
        };
      });
    monaco.editor.setModelMarkers(model, 'asc', markers);
  }, [problems, ready]);

  useEffect(() => {
    const listener = monaco.editor.onDidChangeMarkers((uris) => {
      if (!uris.some((uri) => uri.toString() === MODEL_PATH)) return;
      const found = monaco.editor
        .getModelMarkers({ owner: 'typescript', resource: monaco.Uri.parse(MODEL_PATH) })
        .filter((marker) => marker.severity === monaco.MarkerSeverity.Error)
        .map((marker) => ({ line: marker.startLineNumber, message: String(marker.message) }));
      setTypeErrors(found);
    });
    return () => listener.dispose();
  }, []);

  function reveal(line: number, column = 1) {
    const editor = editorRef.current;
    if (!editor) return;
    editor.revealLineInCenter(line);
    editor.setPosition({ lineNumber: line, column });
    editor.focus();
  }

  return (
    <div className="code-pane">
      <div className="code-editor" data-testid="module-code-editor">
        <Editor
          language="typescript"
          path={MODEL_PATH}
          value={value}
          theme="vs"
          onChange={(next) => onChange(next ?? '')}
          onMount={(editor) => {
            editorRef.current = editor;
            setReady(true);
          }}
          loading={<div className="page-loading">Loading editor…</div>}
          options={{
            ariaLabel: 'AssemblyScript source',
            minimap: { enabled: false },
            automaticLayout: true,
            fontSize: 13,
            tabSize: 2,
            insertSpaces: true,
            scrollBeyondLastLine: false,
            readOnly: readOnly ?? false,
            fixedOverflowWidgets: true,
          }}
        />
      </div>
      <div className="code-problems" aria-live="polite" data-testid="module-type-status">
        {typeErrors.length === 0 ? (
          <span className="ok-text" data-testid="module-types-ok">
            No type errors
          </span>
        ) : (
          <ul aria-label="Type errors">
            {typeErrors.map((error, index) => (
              <li key={index}>
                <button type="button" className="link-button" data-testid="module-type-error" onClick={() => reveal(error.line)}>
                  Line {error.line}: {error.message}
                </button>
              </li>
            ))}
          </ul>
        )}
        {problems.length > 0 ? (
          <ul aria-label="Build problems" data-testid="module-build-problems">
            {problems.map((problem, index) => (
              <li key={index}>
                <button
                  type="button"
                  className="link-button error-text"
                  data-testid="module-build-problem"
                  disabled={!problem.line}
                  onClick={() => problem.line && reveal(problem.line, problem.column ?? 1)}
                >
                  {problem.line ? `Line ${problem.line}:${problem.column ?? 1} ` : ''}
                  {problem.message}
                </button>
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    </div>
  );
}
