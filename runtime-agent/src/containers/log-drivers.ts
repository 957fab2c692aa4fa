// The log drivers berthd has, as `--log-driver` and `--log-opt` name them: json-file, local and
// none. Both json-file and local are kept in the json-file format berthd reads back for `docker
// logs`; local differs by its defaults (20 MB files, 5 of them), as with dockerd. Any other driver
// (syslog, journald, gelf ...) is refused with dockerd's message rather than quietly becoming
// json-file, and so is an option the driver does not know or berthd does not carry out.
import { InvalidParameterError } from '../util/errors.js';
import { parseLogSize, type JsonLogOptions } from './json-log.js';

export interface LogConfig {
  Type?: string;
  Config?: Record<string, string> | null;
}

/** Options every driver takes (dockerd's builtInLogOpts: how messages are delivered). */
const DELIVERY_OPTIONS = ['mode', 'max-buffer-size'];
const OPTIONS: Record<string, string[]> = {
  'json-file': ['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'],
  local: ['max-file', 'max-size', 'compress'],
};
const LOCAL_DEFAULTS = { maxSize: 20 * 1024 * 1024, maxFile: 5 };

function driverName(config: LogConfig | undefined): string {
  return config?.Type || 'json-file';
}

/** Checks a create request's LogConfig as dockerd does (400 with dockerd's messages). */
export function validateLogConfig(config: LogConfig | undefined): void {
  const driver = driverName(config);
  if (driver !== 'none' && !OPTIONS[driver]) throw new InvalidParameterError(`logger: no log driver named '${driver}' is registered`);
  const options = config?.Config ?? {};
  const mode = options.mode;
  if (mode !== undefined && mode !== 'blocking' && mode !== 'non-blocking') throw new InvalidParameterError(`logger: logger mode not supported: ${mode}`);
  const known = OPTIONS[driver];
  if (known) {
    for (const key of Object.keys(options)) {
      if (!known.includes(key) && !DELIVERY_OPTIONS.includes(key)) throw new InvalidParameterError(`unknown log opt '${key}' for ${driver} log driver`);
    }
  }
  // dockerd writes these into each line's `attrs` (labels, env) or gzips rotated files (compress):
  // berthd does neither, so it says so instead of accepting them.
  for (const key of ['labels', 'labels-regex', 'env', 'env-regex']) {
    if (options[key] !== undefined) throw new InvalidParameterError(`log opt '${key}' is not supported by berthd's ${driver} log driver`);
  }
  if (options.compress === 'true') throw new InvalidParameterError(`log opt 'compress' is not supported by berthd's ${driver} log driver: rotated files are kept uncompressed`);
  storageOptions(config);
}

/** How a container's log is kept: whether at all, and its rotation. */
export function storageOptions(config: LogConfig | undefined): JsonLogOptions & { enabled: boolean } {
  const driver = driverName(config);
  if (driver === 'none') return { enabled: false, maxFile: 1 };
  const options = config?.Config ?? {};
  const defaults = driver === 'local' ? LOCAL_DEFAULTS : { maxSize: undefined, maxFile: 1 };
  const maxSize = options['max-size'] !== undefined ? parseLogSize(options['max-size']) : defaults.maxSize;
  if (maxSize !== undefined && maxSize <= 0 && driver === 'json-file') throw new InvalidParameterError(`invalid value for max-size: ${options['max-size']}`);
  const maxFile = options['max-file'] !== undefined ? Number(options['max-file']) : defaults.maxFile;
  if (!Number.isInteger(maxFile) || maxFile < 1) throw new InvalidParameterError('max-file cannot be less than 1');
  // Without max-size nothing rotates, so max-file has nothing to count (dockerd accepts it all the same).
  return { enabled: true, ...(maxSize ? { maxSize } : {}), maxFile: maxSize ? maxFile : 1 };
}
