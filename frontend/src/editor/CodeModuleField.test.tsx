import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { QueryClientProvider } from '@tanstack/react-query';
import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import { mockFetch, testQueryClient } from '../test/helpers';
import { CodeModuleField } from './CodeModuleField';

const MODULES = [
  { id: 'm1', name: 'shout', description: 'Shouts', latest_version: 3, latest: null, created_at: '', updated_at: '' },
  { id: 'm2', name: 'count', description: null, latest_version: 1, latest: null, created_at: '', updated_at: '' },
];

function Harness({ initial, seen }: { initial: string; seen: string[] }) {
  const [handler, setHandler] = useState(initial);
  return (
    <CodeModuleField
      handler={handler}
      onChange={(value) => {
        seen.push(value);
        setHandler(value);
      }}
    />
  );
}

function renderField(initial: string) {
  const seen: string[] = [];
  render(
    <QueryClientProvider client={testQueryClient()}>
      <Harness initial={initial} seen={seen} />
    </QueryClientProvider>,
  );
  return seen;
}

describe('CodeModuleField', () => {
  it('picks a module of the workspace at its latest version, then pins another version', async () => {
    mockFetch([{ path: '/api/modules', body: MODULES }]);
    const seen = renderField('');
    await waitFor(() => expect(screen.getByRole('option', { name: 'shout — Shouts' })).toBeTruthy());
    fireEvent.change(screen.getByLabelText('Module'), { target: { value: 'shout' } });
    expect(seen.at(-1)).toBe('wasm:shout@3');
    const versions = screen.getByLabelText('Version') as HTMLSelectElement;
    expect(Array.from(versions.options).map((option) => option.textContent)).toEqual(['3 (latest)', '2', '1']);
    fireEvent.change(versions, { target: { value: '1' } });
    expect(seen.at(-1)).toBe('wasm:shout@1');
    expect(screen.getByText('Edit code').getAttribute('href')).toBe('/modules/m1');
  });

  it('keeps a marketplace reference as text', async () => {
    mockFetch([{ path: '/api/modules', body: MODULES }]);
    const seen = renderField('tool:acme/summarize@1.2.0');
    const input = screen.getByLabelText('Module reference') as HTMLInputElement;
    expect(input.value).toBe('tool:acme/summarize@1.2.0');
    fireEvent.change(input, { target: { value: 'tool:acme/summarize@1.3.0' } });
    expect(seen.at(-1)).toBe('tool:acme/summarize@1.3.0');
    expect(screen.queryByText('Edit code')).toBeNull();
  });
});
