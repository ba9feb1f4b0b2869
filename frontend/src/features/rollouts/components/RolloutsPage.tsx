import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import type { JsonObject } from '@lib/api/types';
import { ApiError, describeError } from '@lib/api/errors';
import { DataTable, type Column } from '@lib/ui/DataTable';
import { FormError, SubmitButton, TextField } from '@lib/ui/form';
import { Empty, ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { Ago } from '@lib/time/Ago';
import { useRollouts } from '../api/listRollouts';
import { useCreateRollout } from '../api/createRollout';
import { EMPTY_FORM, describeChange, describeSelector, toRolloutBody, waveLabel, type FormErrors, type RolloutForm, type SelectorKind } from '../model';
import { RolloutProgress, RolloutStateBadge } from './RolloutParts';

const COLUMNS: Column[] = [
  { label: 'Rollout' },
  { label: 'State' },
  { label: 'Wave' },
  { label: 'Progress' },
  { label: 'Change' },
  { label: 'Targets' },
  { label: 'Started' },
];

/**
 * Staged rollouts: a form that starts one (features on or off and settings, for
 * orchestrator ids, a location or all, in waves that pause at a failure
 * threshold), and the list with each one's state, wave and progress, refreshed
 * every 1.5 s while one runs.
 */
export function RolloutsPage() {
  const rollouts = useRollouts();
  return (
    <>
      <PageHeader
        title="Rollouts"
        subtitle="Change features or settings for many orchestrators in waves; a wave whose failures exceed the threshold pauses the rollout."
      />
      <NewRolloutForm />
      <section className="card" aria-labelledby="rollout-list">
        <h2 id="rollout-list">Rollouts</h2>
        {rollouts.isPending ? (
          <Loading what="rollouts" />
        ) : rollouts.isError ? (
          <ErrorState what="rollouts" error={rollouts.error} onRetry={() => rollouts.refetch()} />
        ) : !rollouts.data.length ? (
          <Empty>No rollout yet.</Empty>
        ) : (
          <DataTable testId="rollouts-table" caption="Rollouts, newest first" columns={COLUMNS}>
            {rollouts.data.map((r) => (
              <tr key={r.id} data-rollout-id={r.id}>
                <td>
                  <Link to={`/rollouts/${encodeURIComponent(r.id)}`} className="mono">
                    {r.id}
                  </Link>
                </td>
                <td>
                  <RolloutStateBadge state={r.state} />
                </td>
                <td data-testid="rollout-wave">{waveLabel(r)}</td>
                <td>
                  <RolloutProgress outcomes={r.outcomes} />
                </td>
                <td className="small">{describeChange(r.change as JsonObject)}</td>
                <td className="small">{describeSelector(r.selector as JsonObject)}</td>
                <td>
                  <Ago iso={r.created_at} />
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
    </>
  );
}

/** A 422's field messages ("waves: must end at 100"), else the error in one line. */
function serverProblem(err: unknown): string {
  if (err instanceof ApiError && err.fields.length) {
    return err.fields
      .map((f) => {
        const name = f.loc[f.loc.length - 1];
        return name && name !== 'body' ? `${name}: ${f.msg}` : f.msg;
      })
      .join('; ');
  }
  return describeError(err);
}

function FieldMessage({ text }: { text: string | undefined }) {
  return text ? <span className="field-error">{text}</span> : null;
}

/** The create form: checked here first, then `POST /controller/rollouts`; opens the new rollout. */
export function NewRolloutForm() {
  const navigate = useNavigate();
  const create = useCreateRollout();
  const [form, setForm] = useState<RolloutForm>(EMPTY_FORM);
  const [errors, setErrors] = useState<FormErrors>({});
  const set = (patch: Partial<RolloutForm>) => setForm((f) => ({ ...f, ...patch }));
  const setRow = (i: number, patch: Partial<RolloutForm['features'][number]>) =>
    set({ features: form.features.map((r, n) => (n === i ? { ...r, ...patch } : r)) });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const result = toRolloutBody(form);
    if (!result.ok) {
      setErrors(result.errors);
      return;
    }
    setErrors({});
    create.mutate(result.body, {
      onSuccess: (d) => {
        setForm(EMPTY_FORM);
        navigate(`/rollouts/${encodeURIComponent(d.rollout.id)}`);
      },
    });
  };
  const invalid = Object.keys(errors).length > 0;

  return (
    <section className="card" aria-labelledby="new-rollout">
      <h2 id="new-rollout">New rollout</h2>
      <form onSubmit={submit} noValidate data-testid="rollout-form" className="stack-form">
        <fieldset className="plain-fieldset">
          <legend>Features</legend>
          <ul className="feature-rows">
            {form.features.map((row, i) => (
              <li key={i}>
                <input
                  className="input"
                  value={row.key}
                  placeholder="feature key, e.g. beta"
                  aria-label={`Feature ${i + 1} key`}
                  onChange={(e) => setRow(i, { key: e.target.value })}
                />
                <select
                  className="input"
                  aria-label={`Feature ${i + 1} state`}
                  value={row.on ? 'on' : 'off'}
                  onChange={(e) => setRow(i, { on: e.target.value === 'on' })}
                >
                  <option value="on">on</option>
                  <option value="off">off</option>
                </select>
                <button
                  type="button"
                  className="btn btn-sm"
                  aria-label={`Remove feature ${i + 1}`}
                  onClick={() => set({ features: form.features.filter((_, n) => n !== i) })}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
          <button type="button" className="btn btn-sm" onClick={() => set({ features: [...form.features, { key: '', on: true }] })}>
            Add a feature
          </button>
          <FieldMessage text={errors.features} />
        </fieldset>
        <label className="field field-textarea">
          <span>Settings (a JSON object, optional)</span>
          <textarea
            className="input"
            value={form.settings}
            placeholder='{"sampling_rate": 0.5}'
            aria-label="Settings (a JSON object, optional)"
            onChange={(e) => set({ settings: e.target.value })}
          />
          <FieldMessage text={errors.settings} />
        </label>
        <fieldset className="radio-row">
          <legend>Targets</legend>
          {(
            [
              ['ids', 'Orchestrator ids'],
              ['location', 'Location'],
              ['all', 'All orchestrators'],
            ] as [SelectorKind, string][]
          ).map(([kind, label]) => (
            <label key={kind} className="field-check">
              <input type="radio" name="selector" value={kind} checked={form.selector === kind} onChange={() => set({ selector: kind })} />
              {label}
            </label>
          ))}
        </fieldset>
        {form.selector === 'ids' && (
          <TextField label="Orchestrator ids (comma-separated)" value={form.ids} onChange={(ids) => set({ ids })} placeholder="org-1, org-2">
            <FieldMessage text={errors.ids} />
          </TextField>
        )}
        {form.selector === 'location' && (
          <TextField label="Location" value={form.location} onChange={(location) => set({ location })} placeholder="eu-west">
            <FieldMessage text={errors.location} />
          </TextField>
        )}
        <div className="form-grid">
          <TextField label="Waves (cumulative %)" value={form.waves} onChange={(waves) => set({ waves })}>
            <FieldMessage text={errors.waves} />
          </TextField>
          <TextField label="Failure threshold (%)" value={form.threshold} onChange={(threshold) => set({ threshold })}>
            <FieldMessage text={errors.threshold} />
          </TextField>
          <TextField label="Wave timeout (s)" value={form.timeout} onChange={(timeout) => set({ timeout })}>
            <FieldMessage text={errors.timeout} />
          </TextField>
        </div>
        <FormError
          error={
            invalid
              ? 'Correct the fields marked above.'
              : create.error
                ? `The rollout was not started: ${serverProblem(create.error)}`
                : null
          }
        />
        <div className="form-actions-row">
          <SubmitButton busy={create.isPending} label="Start rollout" busyLabel="Starting…" />
        </div>
      </form>
    </section>
  );
}
