import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { QueryClientProvider } from '@tanstack/react-query';
import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import { mockFetch, testQueryClient } from '../test/helpers';
import { describeCapabilities, parseToolReference, searchPath, type JsonSchema } from './api';
import { parseSchema, slugify } from './PublishDialog';
import { configProblems, SchemaConfigForm } from './SchemaConfigForm';
import { ToolNodeFields } from './ToolNodeFields';

const SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    city: { type: 'string', title: 'City' },
    days: { type: 'integer', minimum: 1, maximum: 7 },
    units: { enum: ['metric', 'imperial'] },
    alerts: { type: 'boolean' },
  },
  required: ['city'],
};

function FormHarness({ seen }: { seen: Record<string, unknown>[] }) {
  const [config, setConfig] = useState<Record<string, unknown>>({});
  return (
    <SchemaConfigForm
      schema={SCHEMA}
      value={config}
      onChange={(next) => {
        seen.push(next);
        setConfig(next);
      }}
    />
  );
}

describe('SchemaConfigForm', () => {
  it('renders a control per property and writes typed values into the config', () => {
    const seen: Record<string, unknown>[] = [];
    render(<FormHarness seen={seen} />);
    expect(screen.getByText('required')).toBeTruthy(); // city is required and empty
    fireEvent.change(screen.getByTestId('config-city'), { target: { value: 'Paris' } });
    fireEvent.change(screen.getByTestId('config-days'), { target: { value: '3' } });
    fireEvent.change(screen.getByTestId('config-units'), { target: { value: 'imperial' } });
    fireEvent.click(screen.getByTestId('config-alerts'));
    expect(seen.at(-1)).toEqual({ city: 'Paris', days: 3, units: 'imperial', alerts: true });
    expect(screen.queryByText('required')).toBeNull();
  });

  it('names what breaks the schema', () => {
    expect(configProblems(SCHEMA, { days: 9, units: 'kelvin', alerts: 'yes' })).toEqual({
      city: 'required',
      days: 'at most 7',
      units: 'one of metric, imperial',
      alerts: 'true or false',
    });
    expect(configProblems(SCHEMA, { city: 'Oslo', days: 1.5 })).toEqual({ days: 'a whole number' });
  });
});

describe('marketplace helpers', () => {
  it('parses tool references, search paths, slugs and schemas', () => {
    expect(parseToolReference('tool:weather@1.2.0')).toEqual({ slug: 'weather', version: '1.2.0' });
    expect(parseToolReference('wasm:shout@1')).toBeNull();
    expect(searchPath({ kind: 'flow', q: ' greets ', category: 'ai', sort: 'rating', page: 2 })).toBe(
      '/api/marketplace/flows?q=greets&category=ai&sort=rating&page=2',
    );
    expect(slugify('My Weather Tool!')).toBe('my-weather-tool');
    expect(parseSchema('')).toEqual({ schema: null });
    expect(parseSchema('{"type": "string"}')).toEqual({ problem: 'The schema must say "type": "object"' });
    expect(describeCapabilities({ http_fetch: { hosts: ['a.example'] } })).toEqual([
      'http_fetch: make HTTP requests to a.example',
    ]);
  });
});

describe('ToolNodeFields', () => {
  it('shows the installed tool, its grants and a form from its config schema', async () => {
    mockFetch([
      {
        path: '/api/marketplace/installed',
        body: [
          {
            slug: 'weather', kind: 'tool', title: 'Weather', icon: null, version: '1.0.0',
            reference: 'tool:weather@1.0.0', granted: { http_fetch: { hosts: ['api.weather.example'] } },
            capabilities: { http_fetch: { hosts: ['api.weather.example'] } }, config_schema: SCHEMA,
            installed_at: '',
          },
        ],
      },
    ]);
    const configs: Record<string, unknown>[] = [];
    render(
      <QueryClientProvider client={testQueryClient()}>
        <ToolNodeFields handler="tool:weather@1.0.0" config={{}} onHandler={() => undefined} onConfig={(next) => configs.push(next)} />
      </QueryClientProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('schema-config-form')).toBeTruthy());
    expect(screen.getByTestId('panel-tool-capabilities').textContent).toContain('api.weather.example');
    fireEvent.change(screen.getByTestId('config-city'), { target: { value: 'Lyon' } });
    expect(configs.at(-1)).toEqual({ city: 'Lyon' });
  });
});
