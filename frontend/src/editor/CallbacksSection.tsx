// The flow's completion callbacks: the signing secret receivers verify `Flowplane-Signature`
// with, and the URL called for every failed execution (control_plane/callbacks/README.md).
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api/endpoints';
import { errorMessage } from '../api/client';
import { CopyButton } from '../components/CopyButton';

export function CallbacksSection({ flowId }: { flowId: string }) {
  const [open, setOpen] = useState(false);
  const client = useQueryClient();
  const key = ['flows', flowId, 'callback-settings'];
  const settings = useQuery({ queryKey: key, queryFn: () => api.getCallbackSettings(flowId), enabled: open });
  const [draft, setDraft] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (url: string | null) => api.putCallbackSettings(flowId, url),
    onSuccess: (data) => {
      client.setQueryData(key, data);
      setDraft(null);
    },
  });
  const failureUrl = draft ?? settings.data?.failure_url ?? '';

  return (
    <section aria-labelledby="callbacks-heading" data-testid="callbacks-section">
      <h3 id="callbacks-heading">Callbacks</h3>
      {!open ? (
        <button type="button" className="button button-small" onClick={() => setOpen(true)} data-testid="callbacks-show">
          Show signing secret and failure notifications
        </button>
      ) : null}
      {settings.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(settings.error)}
        </p>
      ) : null}
      {settings.data ? (
        <>
          <p className="muted small">
            Callbacks carry <code>Flowplane-Signature: t=…,v1=…</code> (HMAC-SHA256 of <code>t.body</code>); accept a{' '}
            <code>t</code> at most {settings.data.replay_window_seconds} s old.
          </p>
          <div className="secret-row">
            <code data-testid="callbacks-secret">{settings.data.signing_secret}</code>
            <CopyButton text={settings.data.signing_secret} label="Copy signing secret" />
          </div>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              save.mutate(failureUrl.trim() ? failureUrl.trim() : null);
            }}
          >
            <label className="field">
              <span>Failure notification URL</span>
              <input
                type="url"
                value={failureUrl}
                placeholder="https://example.com/flowplane-failures"
                onChange={(event) => setDraft(event.target.value)}
                data-testid="callbacks-failure-url"
              />
            </label>
            <button type="submit" className="button button-small" disabled={save.isPending} data-testid="callbacks-save">
              {save.isPending ? 'Saving…' : 'Save'}
            </button>
            {save.isError ? (
              <p className="form-error" role="alert">
                {errorMessage(save.error)}
              </p>
            ) : null}
          </form>
        </>
      ) : null}
    </section>
  );
}
