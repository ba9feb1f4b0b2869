import { useState } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router';
import { useAuth } from '@lib/auth/AuthProvider';
import { POLL_MS } from '@lib/api/queryClient';
import { useLiveStatus } from '@lib/live/LiveProvider';
import {
  IconActivity,
  IconBuilding,
  IconDashboard,
  IconFile,
  IconInfo,
  IconLayers,
  IconLogout,
  IconMenu,
  IconMessage,
  IconServer,
  IconSliders,
  IconUser,
  IconUsers,
  Logo,
} from '@lib/ui/icons';
import { useLogout } from '../features/auth/api/logout';

const NAV = [
  { to: '/', label: 'Dashboard', icon: <IconDashboard />, end: true },
  { to: '/organizations', label: 'Organizations', icon: <IconBuilding />, end: true },
  { to: '/configuration', label: 'Configuration', icon: <IconSliders />, end: false },
  { to: '/details', label: 'Organization Details', icon: <IconInfo />, end: false },
  { to: '/rollouts', label: 'Rollouts', icon: <IconLayers />, end: false },
  { to: '/messages', label: 'Messages', icon: <IconMessage />, end: false },
  { to: '/edges', label: 'Edges', icon: <IconServer />, end: false },
  { to: '/logs', label: 'Logs', icon: <IconFile />, end: false },
  { to: '/admins', label: 'Admins', icon: <IconUsers />, end: false },
  { to: '/account', label: 'Account', icon: <IconUser />, end: false },
];

function LiveIndicator() {
  const status = useLiveStatus();
  const text =
    status === 'live'
      ? 'Live'
      : status === 'connecting'
        ? 'Connecting…'
        : `Disconnected — retrying (polling every ${POLL_MS / 1000} s)`;
  return (
    <span className={`live-indicator live-${status}`} role="status" aria-live="polite" data-testid="live-indicator" data-live={status}>
      <span className="live-indicator-dot" aria-hidden="true" />
      <IconActivity />
      <span className="live-indicator-text">{text}</span>
    </span>
  );
}

export function Layout() {
  const { session, signOut } = useAuth();
  const logout = useLogout();
  const location = useLocation();
  // The drawer stays open only on the page where it was opened: following a link closes it.
  const [menuOpenAt, setMenuOpenAt] = useState<string | null>(null);
  const menuOpen = menuOpenAt === location.pathname;

  const doLogout = async () => {
    try {
      await logout.mutateAsync();
    } catch {
      // The token is dropped either way.
    }
    signOut('You have been logged out.');
  };

  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <aside className={`sidebar${menuOpen ? ' open' : ''}`}>
        <div className="brand">
          <Logo />
          <span>Moolai</span>
        </div>
        <nav aria-label="Main" id="main-nav">
          <ul>
            {NAV.map((n) => (
              <li key={n.to}>
                <NavLink
                  to={n.to}
                  end={n.end}
                  className={({ isActive }) =>
                    `nav-link${isActive || (n.to === '/details' && /^\/organizations\/.+/.test(location.pathname)) ? ' active' : ''}`
                  }
                >
                  {n.icon}
                  <span>{n.label}</span>
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="sidebar-foot muted small">Signed in as {session?.username}</div>
      </aside>
      <div className="main-col">
        <header className="topbar">
          <button
            type="button"
            className="icon-btn menu-btn"
            aria-label="Menu"
            aria-expanded={menuOpen}
            aria-controls="main-nav"
            onClick={() => setMenuOpenAt(menuOpen ? null : location.pathname)}
          >
            <IconMenu />
          </button>
          <span className="topbar-brand">
            <Logo size={24} /> Moolai
          </span>
          <LiveIndicator />
          <span className="spacer" />
          <span className="muted small user-name">{session?.username}</span>
          <button type="button" className="btn btn-sm" onClick={doLogout} aria-label="Log out" disabled={logout.isPending}>
            <IconLogout /> <span className="hide-narrow">Logout</span>
          </button>
        </header>
        <main id="main" className="content" tabIndex={-1}>
          <Outlet />
        </main>
      </div>
    </div>
  );
}
