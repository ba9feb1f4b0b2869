import { act } from 'react';
import type { ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';

/** A minimal render helper (no testing-library dependency). */
export function render(ui: ReactNode): { container: HTMLElement; root: Root; unmount(): void } {
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container);
  act(() => root.render(ui));
  return {
    container,
    root,
    unmount: () => {
      act(() => root.unmount());
      container.remove();
    },
  };
}

export async function click(el: Element | null): Promise<void> {
  if (!el) throw new Error('nothing to click');
  await act(async () => {
    (el as HTMLElement).click();
  });
}

export function byText(text: string | RegExp, root: ParentNode = document.body, selector = '*'): HTMLElement | null {
  const all = Array.from(root.querySelectorAll<HTMLElement>(selector));
  return (
    all.find((e) =>
      typeof text === 'string' ? e.textContent?.trim() === text : text.test(e.textContent ?? ''),
    ) ?? null
  );
}
