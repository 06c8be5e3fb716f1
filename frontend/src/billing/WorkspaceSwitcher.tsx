import { useQuery } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { useAuth } from '../auth/AuthContext';
import { billingApi } from './api';

/** The header's workspace picker (shown once the user belongs to more than one). */
export function WorkspaceSwitcher() {
  const { signIn } = useAuth();
  const navigate = useNavigate();
  const workspaces = useQuery({ queryKey: ['workspaces'], queryFn: billingApi.workspaces });
  const list = workspaces.data ?? [];
  if (list.length < 2) return null;
  const current = list.find((item) => item.current)?.id ?? '';
  return (
    <select
      className="workspace-switcher"
      aria-label="Workspace"
      data-testid="workspace-switcher"
      value={current}
      onChange={async (event) => {
        signIn(await billingApi.switchWorkspace(event.target.value));
        navigate('/dashboard');
      }}
    >
      {list.map((item) => (
        <option key={item.id} value={item.id}>
          {item.name} ({item.role})
        </option>
      ))}
    </select>
  );
}
