import type { ReactNode } from 'react';
import { describeError } from '../api/errors';

export function Loading({ what }: { what: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      Loading {what}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

export function ErrorState({ what, error, onRetry }: { what: string; error: unknown; onRetry?: () => void }) {
  return (
    <div className="state state-error" role="alert">
      <span>
        Could not load {what}: {describeError(error)}
      </span>
      {onRetry && (
        <button type="button" className="btn btn-sm" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function PageHeader({ title, subtitle, actions }: { title: string; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle && <p className="subtitle">{subtitle}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </header>
  );
}

/** Previous / next over `pages` pages. */
export function Pager({
  page,
  pages,
  onPage,
  label,
}: {
  page: number;
  pages: number;
  onPage(p: number): void;
  label: string;
}) {
  if (pages <= 1) return null;
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" className="btn btn-sm" onClick={() => onPage(1)} disabled={page <= 1} aria-label="First page">
        «
      </button>
      <button type="button" className="btn btn-sm" onClick={() => onPage(page - 1)} disabled={page <= 1} aria-label="Previous page">
        ‹ Prev
      </button>
      <span className="pager-text" aria-live="polite">
        Page {page} of {pages}
      </span>
      <button type="button" className="btn btn-sm" onClick={() => onPage(page + 1)} disabled={page >= pages} aria-label="Next page">
        Next ›
      </button>
      <button type="button" className="btn btn-sm" onClick={() => onPage(pages)} disabled={page >= pages} aria-label="Last page">
        »
      </button>
    </nav>
  );
}
