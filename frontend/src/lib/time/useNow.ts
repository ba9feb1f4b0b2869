import { useSyncExternalStore } from 'react';

// One shared ticking clock for every "x s ago" on the page.
let now = Date.now();
const listeners = new Set<() => void>();
let timer: number | undefined;

function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  if (timer === undefined) {
    now = Date.now();
    timer = window.setInterval(() => {
      now = Date.now();
      listeners.forEach((l) => l());
    }, 1000);
  }
  return () => {
    listeners.delete(cb);
    if (!listeners.size && timer !== undefined) {
      window.clearInterval(timer);
      timer = undefined;
    }
  };
}

/** Milliseconds since the epoch, re-rendering once a second. */
export function useNow(): number {
  return useSyncExternalStore(subscribe, () => now);
}
