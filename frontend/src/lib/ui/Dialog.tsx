import { useId, useLayoutEffect, useRef } from 'react';
import type { ReactNode } from 'react';
import { createPortal } from 'react-dom';

interface DialogProps {
  title: string;
  /** Escape, a click on the backdrop, or the browser closing the dialog. */
  onClose(): void;
  children: ReactNode;
  /** Element to focus first; otherwise the browser focuses the first focusable one. */
  initialFocus?: React.RefObject<HTMLElement | null>;
  role?: 'dialog' | 'alertdialog';
  describedBy?: string;
  /** Room for long lines (command lines to copy). */
  wide?: boolean;
}

/**
 * A modal `<dialog>` opened with `showModal()`: the browser makes the rest of the
 * page inert, keeps the focus inside, turns Escape into `cancel` and gives the
 * focus back on `close()`. Mounted means open; the parent decides when it closes,
 * so `cancel` is turned into `onClose` (which may refuse, e.g. while saving).
 */
export function Dialog({ title, onClose, children, initialFocus, role = 'dialog', describedBy, wide }: DialogProps) {
  const titleId = useId();
  const ref = useRef<HTMLDialogElement>(null);

  // A layout effect, so that close() (which gives the focus back) runs before
  // React removes the element.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.showModal();
    initialFocus?.current?.focus();
    return () => el.close();
    // Opened once, when mounted.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return createPortal(
    // The portal keeps the dialog out of any form or card it is declared in.
    <dialog
      ref={ref}
      className={wide ? 'dialog dialog-wide' : 'dialog'}
      role={role === 'alertdialog' ? role : undefined}
      aria-labelledby={titleId}
      aria-describedby={describedBy}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      // Browsers may close without a cancelable `cancel` (Chromium's second Escape
      // in a row). The parent is told; if it keeps the dialog, it is shown again,
      // or it would stay mounted but invisible (a token shown once gone from view).
      onClose={(e) => {
        const el = e.currentTarget;
        onClose();
        window.setTimeout(() => {
          if (el.isConnected && !el.open) el.showModal();
        });
      }}
      // The dialog element itself is hit only on its backdrop: its content has its own box.
      onMouseDown={(e) => e.target === e.currentTarget && onClose()}
    >
      <div className="dialog-content">
        <h2 id={titleId} className="dialog-title">
          {title}
        </h2>
        {children}
      </div>
    </dialog>,
    document.body,
  );
}
