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
}

/**
 * A modal `<dialog>` opened with `showModal()`: the browser makes the rest of the
 * page inert, keeps the focus inside, turns Escape into `cancel` and gives the
 * focus back on `close()`. Mounted means open; the parent decides when it closes,
 * so `cancel` is turned into `onClose` (which may refuse, e.g. while saving).
 */
export function Dialog({ title, onClose, children, initialFocus, role = 'dialog', describedBy }: DialogProps) {
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
      className="dialog"
      role={role === 'alertdialog' ? role : undefined}
      aria-labelledby={titleId}
      aria-describedby={describedBy}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      // Browsers may close without a cancelable `cancel` (repeated Escape); the parent follows.
      onClose={onClose}
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
