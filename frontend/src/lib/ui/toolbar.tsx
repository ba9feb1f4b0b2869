// The controls of a list page's toolbar: its search box and filter selects.

/** One choice of a {@link FilterSelect}: its value in the URL and what it reads. */
export interface FilterOption {
  value: string;
  label: string;
}

/**
 * A toolbar's filter: a select over `options`, led by "no filter" (`allLabel`,
 * value '') when given. Plain strings are their own labels.
 */
export function FilterSelect({
  label,
  value,
  allLabel,
  options,
  onChange,
}: {
  label: string;
  value: string | number;
  allLabel?: string;
  options: readonly (string | FilterOption)[];
  onChange(value: string): void;
}) {
  return (
    <select className="input" aria-label={label} value={value} onChange={(e) => onChange(e.target.value)}>
      {allLabel !== undefined && <option value="">{allLabel}</option>}
      {options.map((o) => {
        const { value: v, label: text } = typeof o === 'string' ? { value: o, label: o } : o;
        return (
          <option key={v} value={v}>
            {text}
          </option>
        );
      })}
    </select>
  );
}

/** A toolbar's search box; it takes the room the filters leave. */
export function SearchInput({
  label,
  placeholder,
  value,
  onChange,
}: {
  label: string;
  placeholder: string;
  value: string;
  onChange(value: string): void;
}) {
  return (
    <input
      type="search"
      className="input grow"
      placeholder={placeholder}
      aria-label={label}
      value={value}
      onChange={(e) => onChange(e.target.value)}
    />
  );
}
