import { lazy, Suspense, type ReactNode } from 'react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createBrowserRouter, Navigate, RouterProvider, Link } from 'react-router';
import { ApiError } from './api/client';
import { AuthProvider } from './auth/AuthContext';
import { RequireAuth } from './auth/RequireAuth';
import { QuotaBanner } from './billing/QuotaBanner';
import { AppLayout } from './components/AppLayout';
import { AuthPage } from './pages/AuthPage';
import { DashboardPage } from './pages/DashboardPage';

// Everything past the dashboard is split out: the canvas (React Flow) and Monaco load on demand.
const EditorPage = lazy(() => import('./pages/EditorPage'));
const RunsPage = lazy(() => import('./pages/RunsPage'));
const AllRunsPage = lazy(() => import('./pages/AllRunsPage'));
const SettingsPage = lazy(() => import('./pages/SettingsPage'));
const ModulesPage = lazy(() => import('./modules/ModulesPage'));
const ModuleEditorPage = lazy(() => import('./modules/ModuleEditorPage'));
const MarketplacePage = lazy(() => import('./marketplace/MarketplacePage'));
const ListingPage = lazy(() => import('./marketplace/ListingPage'));
const BillingPage = lazy(() => import('./billing/BillingPage'));
const MembersPage = lazy(() => import('./billing/MembersPage'));
const InvitePage = lazy(() => import('./billing/InvitePage'));

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        retry: (failures, error) =>
          !(error instanceof ApiError && error.status >= 400 && error.status < 500) && failures < 2,
      },
      mutations: { retry: false },
    },
  });
}

function Loading() {
  return (
    <div className="page-loading" role="status" aria-live="polite">
      Loading…
    </div>
  );
}

function withSuspense(node: ReactNode) {
  return <Suspense fallback={<Loading />}>{node}</Suspense>;
}

function NotFound() {
  return (
    <main className="page narrow">
      <h1>Not found</h1>
      <p>
        There is nothing here. <Link to="/dashboard">Back to your flows</Link>
      </p>
    </main>
  );
}

const router = createBrowserRouter([
  { path: '/', element: <Navigate to="/dashboard" replace /> },
  { path: '/login', element: <AuthPage mode="login" /> },
  { path: '/signup', element: <AuthPage mode="signup" /> },
  {
    element: (
      <RequireAuth>
        <AppLayout />
      </RequireAuth>
    ),
    children: [
      { path: '/dashboard', element: <DashboardPage /> },
      { path: '/settings', element: withSuspense(<SettingsPage />) },
      { path: '/settings/billing', element: withSuspense(<BillingPage />) },
      { path: '/settings/members', element: withSuspense(<MembersPage />) },
      { path: '/invite/:token', element: withSuspense(<InvitePage />) },
      { path: '/runs', element: withSuspense(<AllRunsPage />) },
      { path: '/modules', element: withSuspense(<ModulesPage />) },
      { path: '/modules/:id', element: withSuspense(<ModuleEditorPage />) },
      { path: '/marketplace', element: withSuspense(<MarketplacePage />) },
      { path: '/marketplace/:slug', element: withSuspense(<ListingPage />) },
      { path: '/flow/:id/runs', element: withSuspense(<RunsPage />) },
      { path: '/flow/:id/runs/:executionId', element: withSuspense(<RunsPage />) },
    ],
  },
  {
    path: '/flow/:id',
    element: <RequireAuth>{withSuspense(<EditorPage />)}</RequireAuth>,
  },
  { path: '*', element: <NotFound /> },
]);

const queryClient = createQueryClient();

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <AuthProvider>
        <QuotaBanner />
        <RouterProvider router={router} />
      </AuthProvider>
    </QueryClientProvider>
  );
}
