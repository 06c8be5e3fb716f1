// The Code node when it uses a marketplace tool (`tool:<slug>@<version>`): which installed tool,
// what it may do, and its settings as a form rendered from the tool's JSON Schema.
import { JsonField, SelectField } from '../editor/fields';
import { describeCapabilities, parseToolReference, useInstalledTools } from './api';
import { SchemaConfigForm } from './SchemaConfigForm';

interface ToolNodeFieldsProps {
  handler: unknown;
  config: unknown;
  error?: string;
  onHandler: (reference: string) => void;
  onConfig: (config: Record<string, unknown>) => void;
}

export function ToolNodeFields({ handler, config, error, onHandler, onConfig }: ToolNodeFieldsProps) {
  const installed = useInstalledTools();
  const reference = parseToolReference(handler);
  const tools = (installed.data ?? []).filter((item) => item.reference);
  const tool = tools.find((item) => item.slug === reference?.slug);
  const current = typeof handler === 'string' ? handler : '';
  return (
    <>
      <SelectField
        label="Marketplace tool"
        value={current}
        emptyLabel={tools.length ? 'Choose an installed tool…' : 'No tools installed'}
        options={tools.map((item) => [item.reference as string, `${item.title} (${item.reference})`])}
        onChange={(value) => onHandler(value)}
        error={error ?? (installed.data && !tool ? `${reference?.slug ?? 'this tool'} is not installed in this workspace` : undefined)}
        hint="Install tools from the Marketplace; a flow stays on the version it names"
        testId="panel-tool-reference"
      />
      {tool ? (
        <ul className="capability-list small" data-testid="panel-tool-capabilities">
          {describeCapabilities(tool.granted).map((line) => (
            <li key={line}>granted: {line}</li>
          ))}
          {describeCapabilities(tool.granted).length === 0 ? <li>no capabilities: computes only</li> : null}
        </ul>
      ) : null}
      {tool?.config_schema ? (
        <SchemaConfigForm schema={tool.config_schema} value={config} onChange={onConfig} />
      ) : (
        <JsonField label="Config" value={config} onChange={(v) => onConfig((v as Record<string, unknown>) ?? {})} expect="object" hint="Handed to the tool as config" />
      )}
      <button type="button" className="link-button small" onClick={() => onHandler('')} data-testid="panel-tool-to-modules">
        Use one of my modules instead
      </button>
    </>
  );
}
