// --ipc, --pid, --uts and --runtime as dockerd reads them: checked at create (dockerd's messages),
// and at start turned into the namespaces the OCI spec asks for, joining another container's
// where a mode says `container:<name>`.
import { ConflictError, InvalidParameterError } from '../util/errors.js';
import type { ContainerRecord, HostConfig } from '../vocabulary/container-record.js';

const IPC_MODES = ['', 'private', 'shareable', 'host', 'none'];

/** A namespace of the spec: a new one, or an existing one to join. */
export interface NamespaceChoice {
  type: 'pid' | 'ipc' | 'uts';
  path?: string;
}

export function validateNamespaceModes(hc: HostConfig, hostname: string | undefined, runtimeName: string): void {
  const ipc = hc.IpcMode ?? '';
  if (!IPC_MODES.includes(ipc) && !/^container:.+/.test(ipc)) throw new InvalidParameterError(`invalid IPC mode: ${ipc}`);
  const pid = hc.PidMode ?? '';
  if (pid !== '' && pid !== 'host' && !/^container:.+/.test(pid)) throw new InvalidParameterError(`invalid PID mode: ${pid}`);
  const uts = hc.UTSMode ?? '';
  if (uts !== '' && uts !== 'host') throw new InvalidParameterError(`invalid UTS mode: ${uts}`);
  if (uts === 'host' && hostname) throw new InvalidParameterError('conflicting options: hostname and the UTS mode');
  if (hc.Runtime && hc.Runtime !== runtimeName) throw new InvalidParameterError(`unknown or invalid runtime name: ${hc.Runtime}`);
  if (hc.OomScoreAdj !== undefined && (hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000)) {
    throw new InvalidParameterError(`Invalid value ${hc.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  }
}

/**
 * The pid, ipc and uts namespaces for a start: none of its own for `host`, the target's for
 * `container:<name>` (which must be running), a new one otherwise.
 */
export function namespaceChoices(hc: HostConfig, find: (idOrName: string) => ContainerRecord): NamespaceChoice[] {
  const join = (type: 'pid' | 'ipc', mode: string): NamespaceChoice => {
    const target = find(mode.slice('container:'.length));
    if (target.State.Status !== 'running' && target.State.Status !== 'paused') {
      throw new ConflictError(`cannot join ${type.toUpperCase()} of a non running container: ${target.Id}`);
    }
    return { type, path: `/proc/${target.State.Pid}/ns/${type}` };
  };
  const choices: NamespaceChoice[] = [];
  const pid = hc.PidMode ?? '';
  if (pid.startsWith('container:')) choices.push(join('pid', pid));
  else if (pid !== 'host') choices.push({ type: 'pid' });
  const ipc = hc.IpcMode ?? '';
  if (ipc.startsWith('container:')) choices.push(join('ipc', ipc));
  else if (ipc !== 'host') choices.push({ type: 'ipc' });
  if (hc.UTSMode !== 'host') choices.push({ type: 'uts' });
  return choices;
}
