// "Run" for an image: name, published ports, environment, volumes and command, checked before
// anything is created; then create + start, and on to the new container's page.
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';

import * as engine from '../../engine-client';
import { errorText } from '../../format';
import { buildRunSpec, type RunField, type RunInput } from './run-spec';

export interface RunTarget {
  /** What the container's Image will say: a tag when the image has one, else its ID. */
  reference: string;
  exposedPorts?: string[];
  cmd?: string[] | null;
}

function Field({ id, label, hint, errors, children }: { id: string; label: string; hint?: ReactNode; errors: string[] | undefined; children: ReactNode }) {
  return (
    <div className={`run-field${errors ? ' invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && <small id={`${id}-hint`} className="muted">{hint}</small>}
      {errors && (
        <ul id={`${id}-errors`} className="field-error" role="alert">
          {errors.map((e) => <li key={e}>{e}</li>)}
        </ul>
      )}
    </div>
  );
}

export function RunForm({ target, onCancel }: { target: RunTarget; onCancel?: () => void }) {
  const base = useId();
  const [input, setInput] = useState<Omit<RunInput, 'image'>>({ name: '', ports: '', env: '', volumes: '', command: '' });
  const [errors, setErrors] = useState<Partial<Record<RunField, string[]>>>({});
  const [failure, setFailure] = useState<{ message: string; created?: string }>();
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const edit = (field: RunField) => (e: { target: { value: string } }) => setInput((old) => ({ ...old, [field]: e.target.value }));
  const describe = (field: RunField, hint: boolean) => [hint ? `${base}-${field}-hint` : '', errors[field] ? `${base}-${field}-errors` : ''].filter(Boolean).join(' ') || undefined;
  const control = (field: RunField, hint = true) => ({ id: `${base}-${field}`, value: input[field], onChange: edit(field), 'aria-invalid': errors[field] ? true : undefined, 'aria-describedby': describe(field, hint) });

  const submit = async () => {
    setFailure(undefined);
    const spec = buildRunSpec({ image: target.reference, ...input });
    if (!spec.ok) return setErrors(spec.errors);
    setErrors({});
    setBusy(true);
    let created: string | undefined;
    try {
      created = (await engine.createContainer(spec.body, { name: spec.name })).Id;
      await engine.startContainer(created);
      location.hash = `#/container/${created}`;
    } catch (err) {
      // A container that was created but would not start stays, as after `docker run`: its page
      // shows why (logs, inspect), so the form links to it.
      setFailure({ message: errorText(err), ...(created ? { created } : {}) });
    } finally {
      setBusy(false);
    }
  };

  const exposed = target.exposedPorts ?? [];
  return (
    <form className="run-form" aria-label={`Run ${target.reference}`} noValidate onSubmit={(e) => { e.preventDefault(); void submit(); }}>
      <p className="muted">Image <code>{target.reference}</code></p>
      <Field id={`${base}-name`} label="Container name" hint="Optional; the engine picks one when empty." errors={errors.name}>
        <input ref={first} {...control('name')} placeholder="my-app" autoComplete="off" />
      </Field>
      <Field id={`${base}-ports`} label="Ports" errors={errors.ports} hint={<>One per line: <code>host:container[/tcp|udp]</code>, or <code>127.0.0.1:8080:80</code>.{exposed.length > 0 && <> The image exposes {exposed.join(', ')}.</>}</>}>
        <textarea {...control('ports')} rows={2} placeholder={exposed[0] ? `8080:${exposed[0].replace(/\/tcp$/, '')}` : '8080:80'} spellCheck={false} />
      </Field>
      <Field id={`${base}-env`} label="Environment variables" hint={<>One <code>KEY=value</code> per line.</>} errors={errors.env}>
        <textarea {...control('env')} rows={2} placeholder="KEY=value" spellCheck={false} />
      </Field>
      <Field id={`${base}-volumes`} label="Volumes" hint={<>One per line: <code>volume:/path</code> or <code>/host/path:/path[:ro]</code>.</>} errors={errors.volumes}>
        <textarea {...control('volumes')} rows={2} placeholder="data:/var/lib/data" spellCheck={false} />
      </Field>
      <Field id={`${base}-command`} label="Command" hint="Optional; replaces the image's command." errors={errors.command}>
        <input {...control('command')} placeholder={target.cmd?.join(' ') ?? ''} autoComplete="off" spellCheck={false} />
      </Field>
      {failure && (
        <div role="alert" className="error">
          {failure.created ? <>Created the container, but it did not start: {failure.message} <a href={`#/container/${failure.created}`}>Open the container</a></> : <>Could not create the container: {failure.message}</>}
        </div>
      )}
      <div className="form-actions">
        {onCancel && <button type="button" onClick={onCancel}>Cancel</button>}
        <button type="submit" className="primary" disabled={busy}>{busy ? 'Starting…' : 'Run'}</button>
      </div>
    </form>
  );
}
