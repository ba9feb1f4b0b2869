import { useId, useRef, useState, type Ref } from 'react';

interface CopyBlockProps {
  /** Names the text and its Copy button ("Copy <label>"). */
  label: string;
  text: string;
  ref?: Ref<HTMLButtonElement>;
}

/**
 * Text to paste elsewhere, shown whole and selectable, with a Copy button. The
 * clipboard API exists only in secure contexts (https, localhost) and may be
 * refused: then the text is selected, so that Ctrl+C copies it, and the button
 * says so.
 */
export function CopyBlock({ label, text, ref }: CopyBlockProps) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const textRef = useRef<HTMLPreElement>(null);
  const statusId = useId();

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      const el = textRef.current;
      const selection = window.getSelection();
      if (el && selection) {
        const range = document.createRange();
        range.selectNodeContents(el);
        selection.removeAllRanges();
        selection.addRange(range);
      }
      setState('failed');
    }
  };

  return (
    <div className="copy-block">
      <pre ref={textRef} className="json copy-text" aria-label={label} tabIndex={0}>
        <code>{text}</code>
      </pre>
      <div className="copy-row">
        <button
          ref={ref}
          type="button"
          className="btn btn-sm"
          onClick={copy}
          aria-label={`Copy ${label}`}
          aria-describedby={statusId}
        >
          {state === 'copied' ? 'Copied' : 'Copy'}
        </button>
        <span id={statusId} className="muted small" role="status">
          {state === 'copied'
            ? 'Copied to the clipboard.'
            : state === 'failed'
              ? 'The browser did not allow copying: the text is selected, press Ctrl+C.'
              : ''}
        </span>
      </div>
    </div>
  );
}
