import { Switch } from '@lib/ui/Switch';
import type { JsonObject } from '@lib/api/types';
import { useUpdateFeatures } from '../api/updateFeatures';
import { featureKeys, featureOn, featureValue, isSwitchable } from '../model';

function title(key: string): string {
  return key.replace(/[_-]+/g, ' ').replace(/^\w/, (c) => c.toUpperCase());
}

/**
 * One switch per feature, for `{"enabled": bool, …}` and older boolean rows alike;
 * a change is saved as `{"<key>": {"enabled": x, …other keys kept}}` and pushed
 * as provision_config. A value of another shape is shown as it is.
 */
export function FeatureToggles({ organizationId, features }: { organizationId: string; features: JsonObject }) {
  const update = useUpdateFeatures(organizationId);
  const pendingKey = update.isPending ? Object.keys(update.variables ?? {})[0] : undefined;
  return (
    <ul className="feature-list" aria-label={`Features of ${organizationId}`}>
      {featureKeys(features).map((key) => {
        const value = features[key];
        const on = featureOn(value);
        return (
          <li key={key} className="feature-row" data-feature={key}>
            <span>{title(key)}</span>
            {isSwitchable(value) ? (
              <span className="feature-ctl">
                <span className={`chip ${on ? 'chip-on' : 'chip-off'}`} aria-hidden="true">
                  {on ? 'ON' : 'OFF'}
                </span>
                <Switch
                  checked={on}
                  label={`Feature ${key} for ${organizationId}`}
                  busy={pendingKey === key}
                  disabled={update.isPending}
                  onChange={(next) => update.mutate({ [key]: featureValue(value, next) })}
                />
              </span>
            ) : (
              <code className="small">{JSON.stringify(value)}</code>
            )}
          </li>
        );
      })}
    </ul>
  );
}
