import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { QueryClientProvider } from '@tanstack/react-query';
import type { QueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { AuthProvider, useAuth } from '@lib/auth/AuthProvider';
import { LiveProvider } from '@lib/live/LiveProvider';
import { Toasts } from '@lib/ui/toasts';
import { Layout } from './Layout';
import { LoginPage } from '../features/auth/components/LoginPage';
import { OverviewPage } from '../features/overview/components/OverviewPage';
import { OrganizationsPage } from '../features/organizations/components/OrganizationsPage';
import { OrganizationDetailPage } from '../features/organizations/components/OrganizationDetailPage';
import { DetailsPickerPage } from '../features/organizations/components/DetailsPickerPage';
import { ConfigurationPage } from '../features/configuration/components/ConfigurationPage';
import { RolloutsPage } from '../features/rollouts/components/RolloutsPage';
import { RolloutDetailPage } from '../features/rollouts/components/RolloutDetailPage';
import { MessagesPage } from '../features/messages/components/MessagesPage';
import { LogsPage } from '../features/logs/components/LogsPage';
import { EdgesPage } from '../features/edges/components/EdgesPage';
import { AdminsPage } from '../features/admins/components/AdminsPage';
import { AccountPage } from '../features/admins/components/AccountPage';

function RequireAuth({ children }: { children: ReactNode }) {
  const { session } = useAuth();
  const location = useLocation();
  if (!session) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <LiveProvider token={session.token}>{children}</LiveProvider>;
}

function NotFound() {
  return (
    <div className="state state-empty">
      This page does not exist. <a href="/">Back to the dashboard</a>
    </div>
  );
}

export function App({ queryClient }: { queryClient: QueryClient }) {
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <AuthProvider>
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            <Route
              element={
                <RequireAuth>
                  <Layout />
                </RequireAuth>
              }
            >
              <Route index element={<OverviewPage />} />
              <Route path="organizations" element={<OrganizationsPage />} />
              <Route path="organizations/:id" element={<OrganizationDetailPage />} />
              <Route path="details" element={<DetailsPickerPage />} />
              <Route path="configuration" element={<ConfigurationPage />} />
              <Route path="rollouts" element={<RolloutsPage />} />
              <Route path="rollouts/:id" element={<RolloutDetailPage />} />
              <Route path="messages" element={<MessagesPage />} />
              <Route path="logs" element={<LogsPage />} />
              <Route path="edges" element={<EdgesPage />} />
              <Route path="admins" element={<AdminsPage />} />
              <Route path="account" element={<AccountPage />} />
              <Route path="*" element={<NotFound />} />
            </Route>
          </Routes>
        </AuthProvider>
        <Toasts />
      </BrowserRouter>
    </QueryClientProvider>
  );
}
