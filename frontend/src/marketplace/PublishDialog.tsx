// Publish a tool (a module version) or a flow template (a flow) to the marketplace.
import { useState } from 'react';
import { Link } from 'react-router';
import { errorMessage } from '../api/client';
import { Modal } from '../components/Modal';
import { CATEGORIES, marketplaceApi, useMarketplaceMutation, type JsonSchema, type PublishInput } from './api';

export type PublishSource = { kind: 'tool'; moduleId: string; version: number; name: string } | { kind: 'flow'; flowId: string; name: string };

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A slug from a name: lowercase, dashes. */
export function slugify(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
}

/** The config schema text as a JSON Schema object, or a message saying why not. */
export function parseSchema(text: string): { schema: JsonSchema | null } | { problem: string } {
  if (!text.trim()) return { schema: null };
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return { problem: 'A JSON object' };
    if ((value as JsonSchema).type !== 'object') return { problem: 'The schema must say "type": "object"' };
    return { schema: value as JsonSchema };
  } catch (error) {
    return { problem: `Not JSON: ${(error as Error).message}` };
  }
}

export function PublishDialog({ source, onClose }: { source: PublishSource; onClose: () => void }) {
  const [slug, setSlug] = useState(slugify(source.name));
  const [title, setTitle] = useState(source.name);
  const [summary, setSummary] = useState('');
  const [readme, setReadme] = useState('');
  const [category, setCategory] = useState('other');
  const [tags, setTags] = useState('');
  const [visibility, setVisibility] = useState<PublishInput['visibility']>('public');
  const [version, setVersion] = useState('');
  const [schemaText, setSchemaText] = useState('');
  const schema = parseSchema(schemaText);
  const publish = useMarketplaceMutation((input: PublishInput) => marketplaceApi.publish(input));
  const slugProblem = SLUG.test(slug) ? null : 'lowercase letters, digits and dashes';
  const submit = () => {
    if (slugProblem || !title.trim() || !summary.trim() || 'problem' in schema) return;
    const input: PublishInput = {
      kind: source.kind,
      slug,
      title: title.trim(),
      summary: summary.trim(),
      readme,
      category,
      tags: tags
        .split(',')
        .map((tag) => slugify(tag))
        .filter(Boolean),
      visibility,
      ...(version.trim() ? { version: version.trim() } : {}),
      ...(source.kind === 'tool' ? { module_id: source.moduleId, module_version: source.version, config_schema: schema.schema } : { flow_id: source.flowId }),
    };
    publish.mutate(input);
  };
  const done = publish.data;
  return (
    <Modal
      title={source.kind === 'tool' ? `Publish ${source.name} v${source.version} as a tool` : `Publish ${source.name} as a template`}
      onClose={onClose}
      testId="publish-dialog"
      wide
      footer={
        done ? (
          <>
            <button type="button" className="button" onClick={onClose} data-testid="publish-close">
              Close
            </button>
            <Link className="button button-primary" to={`/marketplace/${done.slug}`} data-testid="publish-open">
              Open the listing
            </Link>
          </>
        ) : (
          <>
            <button type="button" className="button" onClick={onClose}>
              Cancel
            </button>
            <button type="button" className="button button-primary" disabled={publish.isPending} onClick={submit} data-testid="publish-submit">
              Publish
            </button>
          </>
        )
      }
    >
      {done ? (
        <p className="notice" role="status" data-testid="publish-done">
          Published {done.title} {done.latest_version}, signed by the platform.
        </p>
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            submit();
          }}
        >
          {source.kind === 'flow' ? (
            <p className="muted small">Secret values and the webhook token are never published: secrets become ${'{secrets.NAME}'} references the user fills in.</p>
          ) : null}
          <label className="field">
            <span>Slug</span>
            <input value={slug} onChange={(event) => setSlug(event.target.value)} data-testid="publish-slug" />
            <small className={slugProblem ? 'field-error' : 'hint'}>{slugProblem ?? (source.kind === 'tool' ? `flows use tool:${slug}@<version>` : 'the listing address')}</small>
          </label>
          <label className="field">
            <span>Title</span>
            <input value={title} maxLength={120} onChange={(event) => setTitle(event.target.value)} data-testid="publish-title" />
          </label>
          <label className="field">
            <span>Summary</span>
            <input value={summary} maxLength={300} onChange={(event) => setSummary(event.target.value)} data-testid="publish-summary" />
          </label>
          <label className="field">
            <span>Category</span>
            <select value={category} onChange={(event) => setCategory(event.target.value)} data-testid="publish-category">
              {CATEGORIES.map((item) => (
                <option key={item} value={item}>
                  {item}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Tags (comma-separated)</span>
            <input value={tags} onChange={(event) => setTags(event.target.value)} data-testid="publish-tags" />
          </label>
          <label className="field">
            <span>Visibility</span>
            <select value={visibility} onChange={(event) => setVisibility(event.target.value as PublishInput['visibility'])}>
              <option value="public">Public</option>
              <option value="unlisted">Unlisted (by link only)</option>
              <option value="private">Private to this workspace (Enterprise)</option>
            </select>
          </label>
          <label className="field">
            <span>Version (optional)</span>
            <input value={version} onChange={(event) => setVersion(event.target.value)} placeholder="1.0.0, then the next minor" data-testid="publish-version" />
          </label>
          <label className="field">
            <span>README (Markdown)</span>
            <textarea value={readme} rows={5} onChange={(event) => setReadme(event.target.value)} data-testid="publish-readme" />
          </label>
          {source.kind === 'tool' ? (
            <label className="field">
              <span>Config schema (JSON Schema, optional)</span>
              <textarea className="mono" value={schemaText} rows={5} onChange={(event) => setSchemaText(event.target.value)} placeholder='{"type": "object", "properties": {"city": {"type": "string"}}}' data-testid="publish-schema" />
              <small className={'problem' in schema ? 'field-error' : 'hint'}>{'problem' in schema ? schema.problem : 'The node panel renders a form from it'}</small>
            </label>
          ) : null}
          {publish.isError ? <p className="form-error">{errorMessage(publish.error)}</p> : null}
        </form>
      )}
    </Modal>
  );
}
