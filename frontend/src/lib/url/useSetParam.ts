import { useSearchParams } from 'react-router';

/**
 * Sets one query parameter of the page's URL (an empty value removes it),
 * replacing the history entry: a filter is where the page is, not a step back.
 */
export function useSetParam(): (key: string, value: string) => void {
  const [params, setParams] = useSearchParams();
  return (key, value) => {
    const p = new URLSearchParams(params);
    if (value) p.set(key, value);
    else p.delete(key);
    setParams(p, { replace: true });
  };
}
