import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, errorMessage } from '../api/client';
import { useMe } from '../api/queries';
import { CopyButton } from '../components/CopyButton';
import { billingApi, ROLES, type IssuedInvitation } from './api';

export default function MembersPage() {
  const client = useQueryClient();
  const me = useMe();
  const members = useQuery({ queryKey: ['members'], queryFn: billingApi.members });
  const invitations = useQuery({ queryKey: ['members', 'invitations'], queryFn: billingApi.invitations });
  const audit = useQuery({ queryKey: ['audit'], queryFn: () => billingApi.audit(50) });
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('editor');
  const [error, setError] = useState<string | null>(null);
  const [issued, setIssued] = useState<IssuedInvitation | null>(null);
  const refresh = () => client.invalidateQueries({ queryKey: ['members'] });
  const change = useMutation({
    mutationFn: ({ userId, role: next }: { userId: string; role: string }) => billingApi.changeRole(userId, next),
    onSettled: refresh,
  });
  const remove = useMutation({ mutationFn: billingApi.removeMember, onSettled: refresh });
  const revoke = useMutation({ mutationFn: billingApi.revokeInvitation, onSettled: refresh });
  const canManage = !(invitations.error instanceof ApiError && invitations.error.status === 403);

  async function invite(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      setIssued(await billingApi.invite(email.trim(), role));
      setEmail('');
      void refresh();
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  async function run(action: () => Promise<unknown>) {
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  return (
    <div className="page narrow">
      <h1>Members</h1>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <section className="card" aria-labelledby="members-heading">
        <h2 id="members-heading">People in this workspace</h2>
        {members.isError ? <p className="form-error">{errorMessage(members.error)}</p> : null}
        <table className="table" data-testid="members">
          <thead>
            <tr>
              <th>Email</th>
              <th>Role</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(members.data ?? []).map((member) => (
              <tr key={member.user_id}>
                <td>{member.email}</td>
                <td>
                  {canManage ? (
                    <select
                      aria-label={`Role of ${member.email}`}
                      value={member.role}
                      onChange={(event) =>
                        run(() => change.mutateAsync({ userId: member.user_id, role: event.target.value }))
                      }
                    >
                      {ROLES.map((item) => (
                        <option key={item} value={item}>
                          {item}
                        </option>
                      ))}
                    </select>
                  ) : (
                    member.role
                  )}
                </td>
                <td>
                  {canManage && member.user_id !== me.data?.user.id ? (
                    <button
                      type="button"
                      className="button button-small button-danger"
                      onClick={() => run(() => remove.mutateAsync(member.user_id))}
                    >
                      Remove
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {canManage ? (
        <section className="card" aria-labelledby="invite-heading">
          <h2 id="invite-heading">Invite</h2>
          <form className="inline-form" onSubmit={invite} noValidate>
            <label className="field grow">
              <span>Email</span>
              <input
                value={email}
                onChange={(event) => setEmail(event.target.value)}
                placeholder="grace@example.com"
                data-testid="invite-email"
              />
            </label>
            <label className="field">
              <span>Role</span>
              <select value={role} onChange={(event) => setRole(event.target.value)} data-testid="invite-role">
                {ROLES.map((item) => (
                  <option key={item} value={item}>
                    {item}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit" className="button button-primary" data-testid="invite-submit">
              Invite
            </button>
          </form>
          {issued ? (
            <p className="banner" data-testid="invite-link">
              Send this single-use link to {issued.email}: <code>{issued.accept_url}</code>{' '}
              <CopyButton text={issued.accept_url} label="Copy link" />
            </p>
          ) : null}
          {(invitations.data ?? []).length > 0 ? (
            <ul className="plain-list">
              {(invitations.data ?? []).map((item) => (
                <li key={item.id}>
                  {item.email} as {item.role}, until {new Date(item.expires_at).toLocaleDateString()}{' '}
                  <button type="button" className="button button-small" onClick={() => run(() => revoke.mutateAsync(item.id))}>
                    Revoke
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
        </section>
      ) : null}
      {audit.data ? (
        <section className="card" aria-labelledby="audit-heading">
          <h2 id="audit-heading">Activity</h2>
          <ul className="plain-list" data-testid="audit">
            {audit.data.map((event) => (
              <li key={event.id}>
                <span className="muted">{new Date(event.created_at).toLocaleString()}</span> {event.user_email ?? 'someone'}{' '}
                {event.action} {event.target_type} <code>{event.summary}</code>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}
