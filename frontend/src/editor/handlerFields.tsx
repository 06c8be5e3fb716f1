// Settings of each listener type (the `config` table of DESIGN.md §3) for the side panel.
import { parseToolReference } from '../marketplace/api';
import { ToolNodeFields } from '../marketplace/ToolNodeFields';
import { CodeModuleField } from './CodeModuleField';
import { CheckboxField, JsonField, NumberField, SelectField, TextField } from './fields';
import type { FlowNode } from './nodeKinds';
import { ExpressionPreview, useExpressionPaths } from './ExpressionPreview';
import { useSecretRefs } from './secretNames';
import type { FieldErrors } from './validation';

export type Config = Record<string, unknown>;

interface ListenerFieldsProps {
  node: FlowNode;
  config: Config;
  errors: FieldErrors;
  peers: string[];
  set: (field: string, value: unknown) => void;
  setConfig: (key: string, value: unknown) => void;
  replaceConfig: (next: Config) => void;
}

export function ListenerFields({ node, config, errors, peers, set, setConfig, replaceConfig }: ListenerFieldsProps) {
  const data = node.data;
  const secretRefs = useSecretRefs();
  const paths = useExpressionPaths(data.name);
  const secretHint = secretRefs.length ? `This flow's secrets: ${secretRefs.join(', ')}` : 'Add secrets in the Flow tab, then reference them as ${secrets.NAME}';
  switch (node.type) {
    case 'llm':
      return (
        <>
          <SelectField
            label="Provider"
            value={config.provider ?? 'openai'}
            options={[
              ['openai', 'OpenAI-compatible'],
              ['anthropic', 'Anthropic'],
            ]}
            onChange={(value) => setConfig('provider', value)}
            error={errors['config.provider']}
          />
          <TextField label="Base URL" value={config.base_url} onChange={(v) => setConfig('base_url', v)} placeholder="https://api.openai.com/v1" />
          <TextField label="Model" value={config.model} onChange={(v) => setConfig('model', v)} error={errors['config.model']} testId="panel-llm-model" />
          <TextField label="System" value={config.system} onChange={(v) => setConfig('system', v)} multiline rows={2} />
          <TextField
            label="Prompt"
            value={config.prompt}
            onChange={(v) => setConfig('prompt', v)}
            error={errors['config.prompt']}
            hint="Templates: {{ payload.field }}"
            multiline
            testId="panel-llm-prompt"
          />
          <NumberField label="Temperature" value={config.temperature} onChange={(v) => setConfig('temperature', v)} error={errors['config.temperature']} step={0.1} />
          <NumberField label="Max tokens" value={config.max_tokens} onChange={(v) => setConfig('max_tokens', v)} error={errors['config.max_tokens']} step={1} />
          <SelectField
            label="Output"
            value={config.output ?? 'text'}
            options={[
              ['text', 'Text'],
              ['json', 'JSON'],
            ]}
            onChange={(value) => setConfig('output', value)}
            error={errors['config.output']}
          />
          <TextField
            label="API key"
            value={config.api_key}
            onChange={(v) => setConfig('api_key', v)}
            hint={secretHint}
            suggestions={secretRefs}
            testId="panel-llm-api-key"
            monospace
          />
          <CheckboxField
            label="Agent: the model chooses the next peer"
            checked={data.agent === true}
            onChange={(checked) => set('agent', checked ? true : undefined)}
          />
        </>
      );

    case 'http': {
      const bodyMode = config.json !== undefined ? 'json' : config.body !== undefined ? 'body' : 'none';
      return (
        <>
          <SelectField
            label="Method"
            value={config.method ?? 'GET'}
            options={['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'].map((m) => [m, m])}
            onChange={(value) => setConfig('method', value)}
            error={errors['config.method']}
            testId="panel-http-method"
          />
          <TextField label="URL" value={config.url} onChange={(v) => setConfig('url', v)} error={errors['config.url']} testId="panel-http-url" monospace />
          <JsonField
            label="Headers"
            value={config.headers}
            onChange={(v) => setConfig('headers', v)}
            error={errors['config.headers']}
            hint={secretRefs.length ? `${secretHint}, e.g. {"Authorization": "Bearer ${secretRefs[0]}"}` : secretHint}
            expect="object"
            rows={3}
            testId="panel-http-headers"
          />
          <SelectField
            label="Body"
            value={bodyMode}
            options={[
              ['none', 'None'],
              ['json', 'JSON'],
              ['body', 'Raw text'],
            ]}
            onChange={(mode) => {
              const next = { ...config };
              delete next.json;
              delete next.body;
              if (mode === 'json') next.json = '{{ payload }}';
              if (mode === 'body') next.body = '';
              replaceConfig(next);
            }}
          />
          {bodyMode === 'json' ? (
            <JsonField label="JSON body" value={config.json} onChange={(v) => setConfig('json', v ?? '{{ payload }}')} hint='JSON, or a template string such as "{{ payload }}"' />
          ) : null}
          {bodyMode === 'body' ? (
            <TextField label="Raw body" value={config.body} onChange={(v) => replaceConfig({ ...config, body: v })} error={errors['config.body']} multiline />
          ) : null}
          <NumberField label="Request timeout (seconds)" value={config.timeout_seconds} onChange={(v) => setConfig('timeout_seconds', v)} error={errors['config.timeout_seconds']} />
        </>
      );
    }

    case 'code':
      if (parseToolReference(data.handler)) {
        return (
          <ToolNodeFields
            handler={data.handler}
            config={node.data.config}
            error={errors.handler}
            onHandler={(v) => set('handler', v)}
            onConfig={(v) => set('config', v)}
          />
        );
      }
      return (
        <>
          <CodeModuleField handler={data.handler} error={errors.handler} onChange={(v) => set('handler', v)} />
          <JsonField label="Config" value={node.data.config} onChange={(v) => set('config', v)} expect="object" hint="Handed to the module as config" />
        </>
      );

    case 'branch':
      return <BranchFields config={config} errors={errors} peers={peers} replaceConfig={replaceConfig} setConfig={setConfig} />;

    case 'transform':
    case 'loop':
      return (
        <>
          {node.type === 'loop' ? (
            <NumberField
              label="Max iterations"
              value={data.max_iterations}
              onChange={(v) => set('max_iterations', v)}
              error={errors.max_iterations}
              hint="Bound on visits of this node per execution"
              step={1}
              testId="panel-max-iterations"
            />
          ) : null}
          <SelectField
            label="Mode"
            value={config.set !== undefined ? 'set' : 'expression'}
            options={[
              ['expression', 'Expression (replace the payload)'],
              ['set', 'Set fields (merge into the payload)'],
            ]}
            onChange={(mode) => replaceConfig(mode === 'set' ? { set: {} } : { expression: 'payload' })}
          />
          {config.set !== undefined ? (
            <JsonField
              label="Set"
              value={config.set}
              onChange={(v) => setConfig('set', v ?? {})}
              error={errors['config.set']}
              expect="object"
              hint='Field → template, e.g. {"greeting": "hello {{ payload.name }}"}'
              testId="panel-transform-set"
            />
          ) : (
            <>
              <TextField
                label="Expression"
                value={config.expression}
                onChange={(v) => replaceConfig({ ...config, expression: v })}
                error={errors['config.expression']}
                hint="JMESPath over {payload, execution}"
                testId="panel-transform-expression"
                suggestions={paths}
                monospace
              />
              <ExpressionPreview nodeName={data.name} expression={config.expression} testId="panel-transform-preview" />
            </>
          )}
        </>
      );

    case 'output':
      return (
        <>
          <TextField
            label="Expression"
            value={config.expression}
            onChange={(v) => setConfig('expression', v)}
            hint="Optional JMESPath; the whole payload is recorded otherwise"
            testId="panel-output-expression"
            suggestions={paths}
            monospace
          />
          <ExpressionPreview nodeName={data.name} expression={config.expression} testId="panel-output-preview" />
        </>
      );

    case 'memory':
      return (
        <>
          <SelectField
            label="Operation"
            value={config.op}
            options={[
              ['get', 'Get'],
              ['set', 'Set'],
              ['delete', 'Delete'],
            ]}
            onChange={(v) => setConfig('op', v)}
            error={errors['config.op']}
          />
          <TextField label="Key" value={config.key} onChange={(v) => setConfig('key', v)} error={errors['config.key']} monospace />
          {config.op === 'set' ? (
            <TextField label="Value" value={config.value} onChange={(v) => replaceConfig({ ...config, value: v })} error={errors['config.value']} hint="A template, e.g. {{ payload }}" monospace />
          ) : null}
          <p className="muted small">Project memory must be enabled for the flow and allowed by your plan.</p>
        </>
      );

    case 'wait':
      return (
        <>
          <SelectField
            label="Wait for"
            value={config.kind}
            options={[
              ['approval', 'An approval (Approve / Reject in Runs)'],
              ['timer', 'A timer'],
              ['event', 'An event (POST /api/flows/{id}/events/{topic})'],
            ]}
            onChange={(v) => replaceConfig({ kind: v, timeout_seconds: config.timeout_seconds, on_timeout: config.on_timeout })}
            error={errors['config.kind']}
            testId="panel-wait-kind"
          />
          {config.kind === 'timer' ? (
            <NumberField label="Seconds" value={config.seconds} onChange={(v) => setConfig('seconds', v)} error={errors['config.seconds']} />
          ) : null}
          {config.kind === 'event' ? (
            <>
              <TextField label="Topic" value={config.topic} onChange={(v) => setConfig('topic', v)} error={errors['config.topic']} monospace />
              <TextField
                label="Correlation"
                value={config.correlation}
                onChange={(v) => setConfig('correlation', v)}
                error={errors['config.correlation']}
                hint="A template, e.g. {{ payload.order_id }}: the id the event must carry"
                monospace
              />
            </>
          ) : null}
          {config.kind === 'approval' ? (
            <TextField label="Message" value={config.message} onChange={(v) => setConfig('message', v)} hint="Shown in the runs view" />
          ) : null}
          <NumberField label="Timeout (seconds)" value={config.timeout_seconds} onChange={(v) => setConfig('timeout_seconds', v)} hint="Optional: give up after this long" />
        </>
      );

    default:
      return null;
  }
}

interface BranchFieldsProps {
  config: Config;
  errors: FieldErrors;
  peers: string[];
  replaceConfig: (next: Config) => void;
  setConfig: (key: string, value: unknown) => void;
}

function BranchFields({ config, errors, peers, replaceConfig, setConfig }: BranchFieldsProps) {
  const cases = Array.isArray(config.cases) ? (config.cases as Array<{ when?: string; to?: string }>) : [];
  const peerOptions: Array<[string, string]> = peers.map((peer) => [peer, peer]);
  const update = (index: number, patch: { when?: string; to?: string }) =>
    replaceConfig({ ...config, cases: cases.map((item, i) => (i === index ? { ...item, ...patch } : item)) });
  return (
    <fieldset className="branch-cases">
      <legend>Cases (first match wins)</legend>
      {errors['config.cases'] ? <p className="field-error">{errors['config.cases']}</p> : null}
      {cases.map((item, index) => (
        <div className="branch-case" key={index}>
          <TextField
            label={`Case ${index + 1}: when`}
            value={item.when}
            onChange={(v) => update(index, { when: v })}
            error={errors[`config.cases.${index}.when`]}
            placeholder="payload.priority == 'high'"
            monospace
          />
          <SelectField
            label="send to"
            value={item.to}
            options={peerOptions}
            onChange={(v) => update(index, { to: v })}
            error={errors[`config.cases.${index}.to`]}
            emptyLabel="Choose a peer…"
          />
          <button
            type="button"
            className="button button-small"
            aria-label={`Remove case ${index + 1}`}
            onClick={() => replaceConfig({ ...config, cases: cases.filter((_, i) => i !== index) })}
          >
            Remove
          </button>
        </div>
      ))}
      <button
        type="button"
        className="button button-small"
        aria-label="Add case"
        onClick={() => replaceConfig({ ...config, cases: [...cases, { when: '', to: peers[0] ?? '' }] })}
      >
        + Add case
      </button>
      <SelectField
        label="Default"
        value={config.default}
        options={peerOptions}
        onChange={(v) => setConfig('default', v)}
        error={errors['config.default']}
        emptyLabel="None (drop the message)"
        hint={peers.length ? undefined : 'Connect this branch to its peers first'}
      />
    </fieldset>
  );
}
