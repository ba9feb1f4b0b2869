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

/** Types into a controlled input the way React notices (its value setter, then `input`). */
export function type(el: HTMLInputElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
  act(() => {
    setter.call(el, value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

/** Lets pending promises and the renders they cause run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await act(async () => await new Promise((r) => setTimeout(r, 0)));
}
