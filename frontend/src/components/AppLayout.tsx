import { NavLink, Outlet, useNavigate } from 'react-router';
import { useMe } from '../api/queries';
import { useAuth } from '../auth/AuthContext';
import { WorkspaceSwitcher } from '../billing/WorkspaceSwitcher';

export function AppHeader() {
  const { signOut } = useAuth();
  const navigate = useNavigate();
  const me = useMe();
  return (
    <header className="app-header">
      <NavLink to="/dashboard" className="brand" aria-label="Flowplane home">
        <img src="/favicon.svg" alt="" width={22} height={22} /> Flowplane
      </NavLink>
      <nav aria-label="Main">
        <NavLink to="/dashboard">Flows</NavLink>
        <NavLink to="/runs" data-testid="nav-runs">
          Runs
        </NavLink>
        <NavLink to="/modules">Modules</NavLink>
        <NavLink to="/marketplace">Marketplace</NavLink>
        <NavLink to="/settings" end>
          Settings
        </NavLink>
        <NavLink to="/settings/members">Members</NavLink>
        <NavLink to="/settings/billing">Billing</NavLink>
      </nav>
      <div className="app-header-user">
        <WorkspaceSwitcher />
        {me.data ? (
          <>
            <span className="muted user-email" data-testid="user-email">
              {me.data.user.email}
            </span>
            <NavLink to="/settings/billing" className="tier-chip" title="Your plan" data-testid="tenant-tier">
              {me.data.tenant.tier}
            </NavLink>
          </>
        ) : null}
        <button
          type="button"
          className="button button-small"
          aria-label="Log out"
          onClick={() => {
            signOut();
            navigate('/login');
          }}
        >
          Log out
        </button>
      </div>
    </header>
  );
}

export function AppLayout() {
  return (
    <div className="app-shell">
      <AppHeader />
      <main className="app-main">
        <Outlet />
      </main>
    </div>
  );
}
