// The YAML view (lazy chunk): Monaco with YAML highlighting and server problems as markers.
import { useEffect, useRef, useState } from 'react';
import Editor from '@monaco-editor/react';
import type { Problem } from '../api/types';
import type { FlowNode } from './nodeKinds';
import { monaco } from './monacoSetup';
import { describeProblem, problemMarkers } from './problems';

export interface YamlEditorProps {
  value: string;
  onChange: (value: string) => void;
  problems: Problem[];
  /** Shown above the editor, e.g. when the canvas does not compile and the text is older. */
  notice?: string | null;
  /** To name the node a canvas problem is about. */
  nodes?: FlowNode[];
}

type CodeEditor = ReturnType<typeof monaco.editor.create>;

export default function YamlEditor({ value, onChange, problems, notice, nodes }: YamlEditorProps) {
  const editorRef = useRef<CodeEditor | null>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    const model = editorRef.current?.getModel();
    if (!model) return;
    const markers = problemMarkers(problems, model.getLineCount()).map((marker) => ({
      severity: monaco.MarkerSeverity.Error,
      message: marker.message,
      startLineNumber: marker.line,
      startColumn: Math.min(marker.startColumn, model.getLineMaxColumn(marker.line)),
      endLineNumber: marker.line,
      endColumn: model.getLineMaxColumn(marker.line),
    }));
    // A problem on an empty line still needs something to underline.
    for (const marker of markers) {
      if (marker.startColumn >= marker.endColumn) marker.startColumn = 1;
      if (marker.startColumn >= marker.endColumn) marker.endColumn = marker.startColumn + 1;
    }
    monaco.editor.setModelMarkers(model, 'flowplane', markers);
  }, [problems, ready]);

  const lineProblems = problems.filter((problem) => problem.line);
  const otherProblems = problems.filter((problem) => !problem.line);

  return (
    <div className="yaml-pane" data-testid="yaml-pane">
      {notice ? (
        <p className="yaml-notice" role="status" data-testid="yaml-notice">
          {notice}
        </p>
      ) : null}
      <div className="yaml-editor" data-testid="yaml-editor">
        <Editor
          language="yaml"
          value={value}
          theme="vs"
          onChange={(next) => onChange(next ?? '')}
          onMount={(editor) => {
            editorRef.current = editor;
            setReady(true);
          }}
          loading={<div className="page-loading">Loading editor…</div>}
          options={{
            ariaLabel: 'Organism YAML',
            minimap: { enabled: false },
            automaticLayout: true,
            fontSize: 13,
            tabSize: 2,
            insertSpaces: true,
            detectIndentation: false,
            scrollBeyondLastLine: false,
            wordWrap: 'on',
            renderWhitespace: 'boundary',
            fixedOverflowWidgets: true,
          }}
        />
      </div>
      <div className="yaml-problems" data-testid="yaml-problems" aria-live="polite">
        {problems.length === 0 ? (
          <span className="ok-text" data-testid="yaml-ok">
            No problems
          </span>
        ) : (
          <ul aria-label="YAML problems">
            {[...lineProblems, ...otherProblems].map((problem, index) => (
              <li key={index}>
                <button
                  type="button"
                  className="link-button"
                  data-testid="yaml-problem"
                  disabled={!problem.line}
                  onClick={() => {
                    const editor = editorRef.current;
                    if (!editor || !problem.line) return;
                    editor.revealLineInCenter(problem.line);
                    editor.setPosition({ lineNumber: problem.line, column: problem.column ?? 1 });
                    editor.focus();
                  }}
                >
                  {describeProblem(problem, nodes)}
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
