// Monaco's TypeScript service for AssemblyScript (lazy chunk of the module editor): no language
// server, just AssemblyScript's standard library types and the Flowplane SDK's (fetched from
// the control plane, so they match the compiler it runs) as the only libraries.
import 'monaco-editor/esm/vs/language/typescript/monaco.contribution';
import 'monaco-editor/esm/vs/basic-languages/typescript/typescript.contribution';
import EditorWorker from 'monaco-editor/esm/vs/editor/editor.worker?worker';
import TypeScriptWorker from 'monaco-editor/esm/vs/language/typescript/ts.worker?worker';
import { monaco } from '../editor/monacoSetup';
import type { SdkTypes } from './api';

(self as unknown as { MonacoEnvironment: { getWorker: (id: string, label: string) => Worker } }).MonacoEnvironment = {
  getWorker: (_id, label) => (label === 'typescript' || label === 'javascript' ? new TypeScriptWorker() : new EditorWorker()),
};

// TypeScript cannot know some AssemblyScript rules (integer types are `number` aliases to it);
// these diagnostics are about constructs that are correct AssemblyScript.
const IGNORED_DIAGNOSTICS = [
  1206, // decorators are not valid here (@inline, @external, @unmanaged on functions)
  1219, // experimental decorators
];

let configured = false;

/** Set the compiler options and libraries once; later calls are no-ops. */
export function configureAssemblyScript(sdk: SdkTypes): void {
  if (configured) return;
  configured = true;
  const defaults = monaco.languages.typescript.typescriptDefaults;
  defaults.setCompilerOptions({
    target: monaco.languages.typescript.ScriptTarget.ESNext,
    module: monaco.languages.typescript.ModuleKind.ESNext,
    moduleResolution: monaco.languages.typescript.ModuleResolutionKind.NodeJs,
    noLib: true,
    allowNonTsExtensions: true,
    experimentalDecorators: true,
    strict: true,
    noImplicitAny: true,
  });
  defaults.setDiagnosticsOptions({
    noSemanticValidation: false,
    noSyntaxValidation: false,
    diagnosticCodesToIgnore: IGNORED_DIAGNOSTICS,
  });
  defaults.setEagerModelSync(true);
  for (const file of sdk.files) defaults.addExtraLib(file.content, file.path);
}

export { monaco };
