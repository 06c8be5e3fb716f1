// A node's `config` as a form rendered from the tool's JSON Schema (type object): strings,
// numbers, integers, booleans and enums get their own controls; anything else is edited as JSON.
import { CheckboxField, JsonField, NumberField, SelectField, TextField } from '../editor/fields';
import type { JsonSchema } from './api';

interface SchemaConfigFormProps {
  schema: JsonSchema;
  value: unknown;
  onChange: (config: Record<string, unknown>) => void;
}

function typeOf(schema: JsonSchema): string {
  const type = Array.isArray(schema.type) ? schema.type.find((item) => item !== 'null') : schema.type;
  if (schema.enum) return 'enum';
  return type ?? 'any';
}

/** The problems of `config` against the schema's simple rules: required, type, enum, bounds. */
export function configProblems(schema: JsonSchema, config: unknown): Record<string, string> {
  const problems: Record<string, string> = {};
  const values = config && typeof config === 'object' ? (config as Record<string, unknown>) : {};
  for (const name of schema.required ?? []) {
    if (values[name] === undefined || values[name] === '') problems[name] = 'required';
  }
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const value = values[name];
    if (value === undefined || problems[name]) continue;
    const type = typeOf(property);
    if (type === 'enum' && !(property.enum ?? []).some((option) => option === value)) {
      problems[name] = `one of ${(property.enum ?? []).map(String).join(', ')}`;
    } else if ((type === 'number' || type === 'integer') && typeof value !== 'number') {
      problems[name] = 'a number';
    } else if (type === 'integer' && !Number.isInteger(value)) {
      problems[name] = 'a whole number';
    } else if (typeof value === 'number' && property.minimum !== undefined && value < property.minimum) {
      problems[name] = `at least ${property.minimum}`;
    } else if (typeof value === 'number' && property.maximum !== undefined && value > property.maximum) {
      problems[name] = `at most ${property.maximum}`;
    } else if (type === 'boolean' && typeof value !== 'boolean') {
      problems[name] = 'true or false';
    }
  }
  return problems;
}

export function SchemaConfigForm({ schema, value, onChange }: SchemaConfigFormProps) {
  const config = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const problems = configProblems(schema, config);
  const required = new Set(schema.required ?? []);
  const set = (name: string, next: unknown) => {
    const copy = { ...config };
    if (next === undefined || next === '') delete copy[name];
    else copy[name] = next;
    onChange(copy);
  };
  const properties = Object.entries(schema.properties ?? {});
  if (!properties.length) return <p className="muted small">This tool takes no settings.</p>;
  return (
    <fieldset className="schema-form" data-testid="schema-config-form">
      <legend>Settings</legend>
      {properties.map(([name, property]) => {
        const label = `${property.title ?? name}${required.has(name) ? ' *' : ''}`;
        const error = problems[name];
        const hint = property.description;
        const testId = `config-${name}`;
        switch (typeOf(property)) {
          case 'enum':
            return (
              <SelectField
                key={name}
                label={label}
                value={config[name]}
                emptyLabel="—"
                options={(property.enum ?? []).map((option) => [String(option), String(option)])}
                onChange={(text) => set(name, (property.enum ?? []).find((option) => String(option) === text))}
                error={error}
                hint={hint}
                testId={testId}
              />
            );
          case 'boolean':
            return (
              <CheckboxField key={name} label={label} checked={config[name] === true} onChange={(checked) => set(name, checked)} hint={hint} testId={testId} />
            );
          case 'number':
          case 'integer':
            return (
              <NumberField
                key={name}
                label={label}
                value={config[name]}
                onChange={(number) => set(name, number)}
                error={error}
                hint={hint}
                step={typeOf(property) === 'integer' ? 1 : undefined}
                testId={testId}
              />
            );
          case 'string':
            return <TextField key={name} label={label} value={config[name]} onChange={(text) => set(name, text)} error={error} hint={hint} testId={testId} />;
          default:
            return <JsonField key={name} label={label} value={config[name]} onChange={(next) => set(name, next)} error={error} hint={hint} testId={testId} />;
        }
      })}
    </fieldset>
  );
}
