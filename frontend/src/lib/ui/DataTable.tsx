import type { ReactNode } from 'react';

/**
 * A column's heading; `num` right-aligns it, as its cells are. A column of
 * buttons shows no heading but still names itself to screen readers (`ariaLabel`).
 */
export interface Column {
  label?: ReactNode;
  ariaLabel?: string;
  num?: boolean;
}

/**
 * A scrollable table with its headings; `children` are the body's rows,
 * `footer` the foot's. The caption is for screen readers only: the card's
 * title already shows.
 */
export function DataTable({
  testId,
  caption,
  columns,
  className,
  wrapClassName,
  children,
  footer,
}: {
  testId: string;
  caption?: string;
  columns: Column[];
  className?: string;
  wrapClassName?: string;
  children: ReactNode;
  footer?: ReactNode;
}) {
  return (
    <div className={wrapClassName ? `table-wrap ${wrapClassName}` : 'table-wrap'}>
      <table className={className ? `table ${className}` : 'table'} data-testid={testId}>
        {caption && <caption className="sr-only">{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i} scope="col" className={c.num ? 'num' : undefined} aria-label={c.ariaLabel}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
        {footer && <tfoot>{footer}</tfoot>}
      </table>
    </div>
  );
}
